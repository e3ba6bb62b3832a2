/**
 * Every error that reaches a user carries one of these stable codes. The README lists each one
 * with what to do about it; a code never changes meaning once released.
 */
export const ERROR_CODES = {
  PORTPLEX_ERR_RULES_READ: 'The rule file could not be read: check the path and its permissions.',
  PORTPLEX_ERR_RULES_YAML: 'The rule file is not valid YAML: fix the syntax at the line and column given.',
  PORTPLEX_ERR_RULES_INVALID: 'The rule file is valid YAML but breaks a rule: fix the key at the line and column given.',
  PORTPLEX_ERR_LISTEN: 'A listener (or the admin endpoint) could not bind: the port is in use or needs privileges (use a port above 1023 or grant CAP_NET_BIND_SERVICE).',
  PORTPLEX_ERR_BACKEND_UNREACHABLE: 'No server of the chosen backend accepted the connection: check that it runs and listens on the configured address.',
  PORTPLEX_ERR_NO_ROUTE: 'No route matched and the rule file has no default backend: add `default:` or a catch-all route.',
  PORTPLEX_ERR_PROXY_UNTRUSTED: 'A PROXY header came from a peer outside proxy_protocol.trusted (or a `required` listener was reached directly): add the load balancer\'s addresses to trusted, or stop sending the header.',
  PORTPLEX_ERR_PROXY_REQUIRED: 'The listener requires a PROXY header and the connection had none: enable the header on the load balancer (e.g. proxy_protocol_v2.enabled on an AWS NLB target group) or set accept: optional.',
  PORTPLEX_ERR_PROXY_NOT_ACCEPTED: 'A PROXY header arrived on a listener with proxy_protocol.accept off: set accept: optional or required with trusted: on that listener, or stop the sender from adding it.',
  PORTPLEX_ERR_PROXY_INVALID: 'A PROXY header from a trusted peer was malformed, too large or incomplete in time: check the load balancer\'s PROXY settings and proxy_protocol.max_bytes / timeout.',
  PORTPLEX_ERR_PROXY_IN_DATA: 'The client data (after any accepted header) starts with a PROXY signature: a client tried to forge its address; the connection was refused.',
  PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE: 'The outgoing PROXY v2 header would exceed 65535 bytes: send fewer TLVs.',
  PORTPLEX_ERR_ROOT: 'Started as root without a user to switch to (or the switch failed, or after it admin.token_file can no longer be read): set `user:`/`group:` in the rules (or --user/--group) and make the token file readable by that user, or pass --allow-root if running as root is intended.',
  PORTPLEX_ERR_DATAPLANE_UNAVAILABLE: 'The native data plane was asked for (--dataplane native, PORTPLEX_DATAPLANE=native or dataplane: native) and cannot run here: build it (npm run build:native needs g++, make and python3), or ask for js or auto.',
  PORTPLEX_ERR_TRANSPARENT: 'A backend or server has `transparent: true` and this process cannot open connections from the client\'s address: it needs the native data plane and CAP_NET_ADMIN (root, a granted capability, or root with `user:`, which keeps it). The message says which is missing and how to grant it.',
  PORTPLEX_ERR_TRANSPARENT_SETUP: 'A command of `portplex transparent setup --apply` or `--remove` failed: they need root (or CAP_NET_ADMIN), nft (Debian: nftables), ip (iproute2) and sysctl (procps); the message names the command and what it said.',
  PORTPLEX_ERR_DEMO: 'A built-in demo service could not start: free its port or remove it from the `demo:` section.',
  PORTPLEX_ERR_ADMIN_INTERNAL: 'The admin endpoint hit an unexpected error while answering a request: that request got a 500 (or its connection was closed) and the process kept running. Report it with the log line (stage, err).',
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
