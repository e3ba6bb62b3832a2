/**
 * Accumulates the client's first bytes without consuming them. The first chunk is kept as it
 * arrived (no copy: most decisions are taken on it); later chunks go into one growing buffer.
 */
export class PeekBuffer {
  private buf: Buffer = EMPTY;
  private used = 0;

  get length(): number {
    return this.used;
  }

  /** A view of every byte so far; valid until the next append. */
  get bytes(): Buffer {
    return this.used === this.buf.length ? this.buf : this.buf.subarray(0, this.used);
  }

  append(chunk: Buffer): void {
    if (this.used === 0) {
      this.buf = chunk;
      this.used = chunk.length;
      return;
    }
    const need = this.used + chunk.length;
    if (need > this.buf.length || this.buf.length === this.used) {
      // The first chunk is borrowed from the socket: copy it the first time we grow.
      const next = Buffer.allocUnsafe(Math.max(need, Math.min(this.used * 2, 1 << 20)));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    chunk.copy(this.buf, this.used);
    this.used = need;
  }
}

const EMPTY = Buffer.alloc(0);
