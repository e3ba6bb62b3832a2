/**
 * A backend that no route, `default:`, `udp.default` or `sni_forward.fallback` names takes no
 * connection, yet `run` still health-checks its servers: most often a route's `to:` was meant
 * to name it, or a route was removed and the backend left behind.
 */
import type { BackendConfig, RouteConfig, RulesConfig } from './types.js';

export function unusedBackendWarnings(
  backends: ReadonlyMap<string, BackendConfig>,
  routes: readonly RouteConfig[],
  defaults: readonly (string | undefined)[],
): RulesConfig['warnings'] {
  const used = new Set<string | undefined>(defaults);
  for (const r of routes) {
    if (r.action.kind === 'backend') used.add(r.action.backend);
    else if (r.action.kind === 'sni-forward') used.add(r.action.forward.fallback);
  }
  return [...backends.values()]
    .filter((b) => !used.has(b.name))
    .map((b) => ({
      ...b.pos,
      message: `backend "${b.name}" is not used: no route sends to it (to:, sni_forward.fallback) and it is not default:${b.transport === 'udp' ? ' or udp.default' : ''}. Name it in a route, or remove it${b.health === undefined ? '' : ' (its health checks run all the same)'}`,
    }));
}
