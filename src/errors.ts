/**
 * Every error that reaches a user carries one of these stable codes. The README lists each one
 * with what to do about it; a code never changes meaning once released.
 */
export const ERROR_CODES = {
  PORTPLEX_ERR_RULES_READ: 'The rule file could not be read: check the path and its permissions.',
  PORTPLEX_ERR_RULES_YAML: 'The rule file is not valid YAML: fix the syntax at the line and column given.',
  PORTPLEX_ERR_RULES_INVALID: 'The rule file is valid YAML but breaks a rule: fix the key at the line and column given.',
  PORTPLEX_ERR_LISTEN: 'A listener could not bind: the port is in use or needs privileges (use a port above 1023 or grant CAP_NET_BIND_SERVICE).',
  PORTPLEX_ERR_BACKEND_UNREACHABLE: 'No server of the chosen backend accepted the connection: check that it runs and listens on the configured address.',
  PORTPLEX_ERR_NO_ROUTE: 'No route matched and the rule file has no default backend: add `default:` or a catch-all route.',
  PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE: 'The outgoing PROXY v2 header would exceed 65535 bytes: send fewer TLVs.',
  PORTPLEX_ERR_DEMO: 'A built-in demo service could not start: free its port or remove it from the `demo:` section.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class PortplexError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PortplexError';
    this.code = code;
  }
}
