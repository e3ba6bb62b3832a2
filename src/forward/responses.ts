/** The few HTTP/1.1 responses a CONNECT route answers itself (RFC 9110 §15). */
const REASONS: Record<number, string> = {
  200: 'Connection Established',
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

export const CONNECTION_ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n', 'latin1');

/** A complete response that ends the connection, with a short text body. */
export function errorResponse(status: number, body: string, headers: readonly string[] = []): Buffer {
  const text = body.endsWith('\n') ? body : body + '\n';
  const head = [`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close', ...headers];
  return Buffer.from(head.join('\r\n') + '\r\n\r\n' + text, 'utf8');
}

/** How long a final answer (a CONNECT refusal) may take to drain before the connection is cut. */
export const RESPONSE_LINGER_MS = 2000;
