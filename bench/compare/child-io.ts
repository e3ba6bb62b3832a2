/**
 * The protocol between the bench and its client processes (bulk-client, ttfb-client,
 * hold-client): one line per event on stdout, `NAME {json}`. Each client also bounds its own life,
 * so that it stops even if the bench itself was killed with SIGKILL.
 */

export function emit(event: string, data: unknown = {}): void {
  process.stdout.write(`${event} ${JSON.stringify(data)}\n`);
}

/** `NAME {json}` -> the parsed json, when the line is that event. */
export function parseEvent<T>(line: string, event: string): T | undefined {
  return line.startsWith(event + ' ') ? (JSON.parse(line.slice(event.length + 1)) as T) : undefined;
}

/** Exits the client after `ms` whatever it is doing (exit code 3). */
export function lifetime(ms: number): void {
  setTimeout(() => {
    process.stderr.write(`client: lifetime of ${ms} ms exceeded\n`);
    process.exit(3);
  }, ms).unref();
}

/** argv[i] as a number, or exit 2 with a message. */
export function numArg(i: number, name: string): number {
  const v = Number(process.argv[i]);
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`client: ${name} (argument ${i - 1}) must be a non-negative number, got ${process.argv[i]}\n`);
    process.exit(2);
  }
  return v;
}
