/**
 * What one TCP connection holds of the process-wide limits (src/engine/limits.ts): its socket
 * slot, its peeked bytes in the inspect-buffer total, and once admitted its client address's
 * connection and inspection slots. Each is given back exactly once, however the connection ends.
 */
import type { ListenerConfig } from '../config/types.js';

/** The process-wide limits as a connection uses them (src/engine/limits.ts's Limits is one). */
export interface ConnectionLimits {
  holdInspectBytes(n: number, listener: string): boolean;
  releaseInspectBytes(n: number): void;
  admitClient(address: string, listener: string): boolean;
  doneInspecting(address: string): void;
  releaseClient(address: string, stillInspecting: boolean): void;
  releaseSocket(listener: ListenerConfig): void;
}

export class ClientAccount {
  private admitted = false;
  private inspecting = false;
  private heldBytes = 0;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly listener: ListenerConfig,
  ) {}

  /** Reserves `n` more peeked bytes; false when the process-wide total would be exceeded. */
  holdBytes(n: number): boolean {
    if (!this.limits.holdInspectBytes(n, this.listener.name)) return false;
    this.heldBytes += n;
    return true;
  }

  /** The per-address limits, once the client address is final (after any PROXY header). */
  admit(address: string): boolean {
    if (!this.limits.admitClient(address, this.listener.name)) return false;
    this.admitted = this.inspecting = true;
    return true;
  }

  /** Inspection is over (routed or closed): the peeked bytes and the inspection slot go back. */
  doneInspecting(address: string): void {
    this.limits.releaseInspectBytes(this.heldBytes);
    this.heldBytes = 0;
    if (!this.inspecting) return;
    this.inspecting = false;
    this.limits.doneInspecting(address);
  }

  /** The connection closed: its address's slot (if admitted) and its socket slot go back. */
  release(address: string): void {
    if (this.admitted) this.limits.releaseClient(address, false);
    this.limits.releaseSocket(this.listener);
  }
}
