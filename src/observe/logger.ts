/** pino JSON logs; human-readable through pino-pretty when stdout is a terminal. */
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  readonly level: string;
  /** Force pretty (true) or JSON (false); default: pretty when stdout is a TTY. */
  readonly pretty?: boolean;
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.destination) return pino(base, opts.destination);
  const wantPretty = opts.pretty ?? process.stdout.isTTY === true;
  if (wantPretty) return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true }));
  return pino(base, pino.destination({ dest: 1, sync: false }));
}
