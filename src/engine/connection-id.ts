/** The ids of TCP connections in logs: the process, then a sequence, whichever data plane serves them. */
let sequence = 0;
const ID_PREFIX = process.pid.toString(36) + '-';

export function nextConnectionId(): string {
  return ID_PREFIX + (++sequence).toString(36);
}
