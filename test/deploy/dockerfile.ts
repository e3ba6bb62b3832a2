/**
 * Just enough of Dockerfile and .dockerignore syntax to check deploy/Dockerfile without a Docker
 * engine (this machine and CI have none): instructions per stage, and which paths of the build
 * context the ignore file lets through.
 */
import assert from 'node:assert/strict';

export interface Instruction {
  /** Upper-cased keyword: FROM, COPY, RUN... */
  readonly cmd: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Stages in order; comment lines are dropped, also inside continued instructions (as Docker does). */
export function parseDockerfile(text: string): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i + 1;
    let joined = first;
    let continued = /\\\s*$/.test(first);
    while (continued && i + 1 < lines.length) {
      const next = lines[++i]!;
      if (/^\s*#/.test(next)) continue;
      joined = joined.replace(/\\\s*$/, ' ') + next;
      continued = /\\\s*$/.test(next);
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(joined);
    assert.ok(m, `Dockerfile line ${start}: not an instruction: ${first}`);
    const ins: Instruction = { cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start };
    if (ins.cmd === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(f, `Dockerfile line ${start}: FROM ${ins.args}`);
      stages.push({ image: f[1]!, name: f[2], instructions: [] });
    } else {
      assert.ok(stages.length > 0, `Dockerfile line ${start}: ${ins.cmd} before FROM`);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

export interface Copy {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
  readonly line: number;
}

/** COPY instructions of a stage in the shell form, with their --from (other flags ignored). */
export function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.cmd === 'COPY')
    .map((i) => {
      assert.ok(!i.args.startsWith('['), `Dockerfile line ${i.line}: write COPY in the shell form`);
      const words = i.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      assert.ok(paths.length >= 2, `Dockerfile line ${i.line}: COPY needs a source and a destination`);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)!, line: i.line };
    });
}

/** The JSON array of an exec-form instruction (CMD ["a", "b"]), after any --options. */
export function execForm(args: string, what: string): string[] {
  const at = args.indexOf('[');
  assert.ok(at >= 0, `${what}: not in the exec (JSON array) form: ${args}`);
  const parsed = JSON.parse(args.slice(at)) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string'), `${what}: not an array of strings`);
  return parsed;
}

/**
 * A .dockerignore as a predicate "is this context path excluded". Supports what Docker's
 * matcher does for the patterns used here: `*` (not across `/`), `**`, `?`, `!` exceptions,
 * the last matching line winning, and a pattern matching a directory covering what is under
 * it. Character classes and escapes are refused rather than guessed at.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const exception = l.startsWith('!');
      const pattern = (exception ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      assert.ok(!/[[\]\\]/.test(pattern), `.dockerignore: "${l}": character classes and escapes are not supported by this check`);
      const re = pattern
        .split('/')
        .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/');
      return { exception, re: new RegExp(`^${re}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) {
      if (prefixes.some((p) => r.re.test(p))) excluded = !r.exception;
    }
    return excluded;
  };
}
