/** Reading and checking the files under deploy/: paths, YAML, and the rule files they embed. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { isMap, isScalar, parseAllDocuments, parseDocument } from 'yaml';
import { compileRulesText, formatIssues } from '../../src/config/load.js';
import { parseDuration, parseHostPort } from '../../src/config/units.js';
import type { HostPort, RulesConfig } from '../../src/config/types.js';
import { REPO_ROOT } from '../helpers/interop.js';

export { REPO_ROOT };
export const DEPLOY = join(REPO_ROOT, 'deploy');

export function readRepoFile(rel: string): string {
  return readFileSync(join(REPO_ROOT, rel), 'utf8');
}

/** A systemd unit's section (e.g. Service) as key -> every value, in order (Exec*= lines may repeat). */
export function unitSection(unitText: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1]!;
    else if (current === name) {
      const eq = line.indexOf('=');
      out.set(line.slice(0, eq), [...(out.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
    }
  }
  return out;
}

/** Every YAML document of a file, failing the test on any syntax error (with the position). */
export function parseYamlDocs(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) assert.fail(`${file}: not YAML documents`);
  for (const d of docs) {
    if (d.errors.length > 0) assert.fail(`${file}: ${d.errors.map((e) => e.message).join('\n')}`);
  }
  return docs.map((d) => d.toJS() as unknown);
}

export function parseYamlFile(rel: string): unknown {
  const docs = parseYamlDocs(readRepoFile(rel), rel);
  assert.equal(docs.length, 1, `${rel}: expected one YAML document`);
  return docs[0];
}

export interface DeployRules {
  readonly rules: RulesConfig;
  /** The `admin:` section's listen address, when the file has one. */
  readonly adminListen: HostPort | undefined;
}

/** Compiles a rule file shipped under deploy/ and fails the test with every issue (file:line:col). */
export function compileDeployRules(text: string, file: string): DeployRules {
  const loaded = compileRulesText(text, file);
  if (!loaded.ok) assert.fail(`${file} does not compile:\n${formatIssues(loaded.code, loaded.issues)}`);
  return { rules: loaded.rules, adminListen: loaded.rules.admin?.listen };
}

/** The value following `flag` in an argument list (`--workers 2`), or undefined. */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

/** A duration written for portplex or systemd ("30s", "45s", "1m") in milliseconds; fails the test otherwise. */
export function durationMs(text: string | undefined, what: string): number {
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined) assert.fail(`${what}: "${String(text)}" is not a duration`);
  return ms;
}

/** The port of each listener (one per bind address) of compiled rules. */
export function listenerPorts(rules: RulesConfig): number[] {
  return rules.listeners.map((l) => l.port);
}
