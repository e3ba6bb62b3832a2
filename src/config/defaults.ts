/** Defaults for every optional rule-file key; the README's reference lists the same values. */
export const DEFAULTS = {
  inspectTimeoutMs: 3000,
  inspectMaxBytes: 16384,
  proxyHeaderTimeoutMs: 5000,
  proxyHeaderMaxBytes: 4096,
  connectTimeoutMs: 5000,
  idleTimeoutMs: 600_000,
  logLevel: 'info',
  balance: 'roundrobin',
  retries: 1,
  passiveFailures: 3,
  passiveCooldownMs: 10_000,
  healthIntervalMs: 5000,
  healthTimeoutMs: 2000,
  healthRise: 2,
  healthFall: 3,
} as const;
