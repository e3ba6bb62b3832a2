/**
 * Accumulates the client's first bytes without consuming them. The first chunk is kept as it
 * arrived (no copy: most decisions are taken on it); later chunks go into one growing buffer,
 * which grows geometrically (doubling up to 1 MiB, then by half) so that a client sending one byte
 * per segment costs amortised O(1) copied bytes per byte, never a copy of everything so far.
 */
export class PeekBuffer {
  private buf: Buffer = EMPTY;
  private used = 0;
  /** The view `bytes` last returned, until the next append (matchers ask for it many times per segment). */
  private view: Buffer | undefined;

  get length(): number {
    return this.used;
  }

  /** A view of every byte so far; valid until the next append. */
  get bytes(): Buffer {
    return (this.view ??= this.used === this.buf.length ? this.buf : this.buf.subarray(0, this.used));
  }

  append(chunk: Buffer): void {
    this.view = undefined;
    if (this.used === 0) {
      this.buf = chunk;
      this.used = chunk.length;
      return;
    }
    const need = this.used + chunk.length;
    if (need > this.buf.length || this.buf.length === this.used) {
      // The first chunk is borrowed from the socket: copy it the first time we grow.
      const grown = this.used < 1 << 19 ? this.used * 2 : Math.max(1 << 20, this.used + (this.used >> 1));
      const next = Buffer.allocUnsafe(Math.max(need, grown));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    chunk.copy(this.buf, this.used);
    this.used = need;
  }
}

const EMPTY = Buffer.alloc(0);
