/**
 * The configurations the bench writes, side by side so they can be compared by eye: one
 * nginx serving as both backends, and the proxies under test (portplex, HAProxy, HAProxy with
 * splice-auto) with the same routing.
 *
 * Routing (both proxies): inspect the client's first bytes for up to 3 s; a TLS ClientHello goes to
 * the "tls" backend, an HTTP request to the "http" backend, anything else is closed; a PROXY v2
 * header without TLVs precedes the client's bytes (portplex's AUTHORITY/ALPN TLVs are turned off
 * because HAProxy in `mode tcp` sends none: both write the same 28 header bytes). Idle timeouts 10
 * minutes, connect timeout 5 s, no per-connection logging.
 */

export interface BackendPorts {
  /** HTTP route: `listen ... proxy_protocol` (what the proxies dial) and a plain listener (direct runs). */
  readonly httpPp: number;
  readonly httpDirect: number;
  /** TLS route, the same pair. */
  readonly tlsPp: number;
  readonly tlsDirect: number;
}

/** The answer body of the HTTP route's backend. */
export const HTTP_BODY = 'http-ok\n';
/** The answer body of the TLS route's backend (with status 400, see nginxConfig). */
export const TLS_BODY = 'tls-ok\n';
export const TLS_STATUS = 400;
/** Path of the bulk file under the HTTP backend's root. */
export const BULK_PATH = '/bulk.bin';

/**
 * One nginx (C, event-driven: cheap on a 2-core machine shared with the proxy and the generator),
 * one worker, no access log.
 *
 * - HTTP route: `return 200 "http-ok\n"`, and the bulk file served with sendfile from tmpfs.
 * - TLS route: the backend only has to answer a few bytes and close, no handshake. nginx's HTTP
 *   parser rejects the ClientHello's first byte and answers 400; `error_page 400` turns the body into
 *   `tls-ok\n`, so an answer from this server cannot be confused with one from the HTTP route's
 *   (which would also say 400 to a hello, with nginx's stock page). nginx's stream module
 *   (libnginx-mod-stream) would be no cheaper and is not installed by default.
 *
 * Each server listens twice: with `proxy_protocol` for the proxies (nginx checks the PROXY v2
 * header: a malformed one closes the connection, which the generators count as an error), and
 * without, for the direct runs that tell how fast generator + backend go with no proxy at all.
 */
export function nginxConfig(o: { dir: string; dataDir: string; ports: BackendPorts; workerConnections: number; asRoot: boolean }): string {
  const p = o.ports;
  return `# written by bench/compare (npm run bench)
${o.asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log error;
events { worker_connections ${o.workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${o.dir}/client_body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  # Held connections (RSS per connection) stay open between requests for the whole measurement.
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  root ${o.dataDir};

  server {
    listen 127.0.0.1:${p.httpPp} proxy_protocol;
    listen 127.0.0.1:${p.httpDirect};
    location = ${BULK_PATH} { }
    location / { default_type text/plain; return 200 "${HTTP_BODY.replace('\n', '\\n')}"; }
  }

  server {
    listen 127.0.0.1:${p.tlsPp} proxy_protocol;
    listen 127.0.0.1:${p.tlsDirect};
    error_page 400 /tls-ok.txt;
    location = /tls-ok.txt { default_type text/plain; }
    location / { return 404; }
  }
}
`;
}

/**
 * HAProxy in `mode tcp`: the documented way to route by the first bytes; `splice` adds `option
 * splice-auto` (kernel pipes between the sockets when buffers fill, HAProxy's bulk setting). `maxconn` is set both
 * globally and in `defaults` (a frontend's own default is lower) so the held-connection count is
 * never refused.
 */
export function haproxyConfig(o: { port: number; ports: BackendPorts; nbthread: number; maxconn: number; splice: boolean }): string {
  return `# written by bench/compare (npm run bench)
global
  nbthread ${o.nbthread}
  maxconn ${o.maxconn}

defaults
  mode tcp
  maxconn ${o.maxconn}${o.splice ? '\n  # splice(2) where HAProxy judges it pays (bulk), as its users turn on for throughput\n  option splice-auto' : ''}
  timeout connect 5s
  timeout client 10m
  timeout server 10m

frontend mux
  bind 127.0.0.1:${o.port}
  tcp-request inspect-delay 3s
  tcp-request content accept if { req.ssl_hello_type 1 }
  tcp-request content accept if HTTP
  tcp-request content reject
  use_backend tls if { req.ssl_hello_type 1 }
  use_backend http if HTTP

backend tls
  server tls 127.0.0.1:${o.ports.tlsPp} send-proxy-v2

backend http
  server http 127.0.0.1:${o.ports.httpPp} send-proxy-v2
`;
}

/**
 * portplex: the same routing. Limits raised so that neither the per-address limits (every bench
 * client is 127.0.0.1) nor the connection cap refuse anything; `log.level: warn` drops the
 * per-connection line HAProxy does not write either.
 */
export function portplexRules(o: { port: number; ports: BackendPorts }): string {
  const backend = (port: number): string => `{ send_proxy: v2, proxy_v2: { authority: false, alpn: false }, servers: ["127.0.0.1:${port}"] }`;
  return `# written by bench/compare (npm run bench)
listeners:
  - bind: "127.0.0.1:${o.port}"
inspect: { timeout: 3s }
timeouts: { idle: 10m }
log: { level: warn }
limits: { max_connections: 100000, per_ip: { connections: 0, inspecting: 0, rate: 0 } }
backends:
  tls: ${backend(o.ports.tlsPp)}
  http: ${backend(o.ports.httpPp)}
routes:
  - { name: tls, when: { protocol: tls }, to: tls }
  - { name: http, when: { protocol: http }, to: http }
`;
}
