/**
 * admin.allowed_hosts and admin.token_file in the rule file: names and addresses normalised, the
 * token file read when the rules load (relative to the rule file), and every way it can be wrong
 * refused at the key's line and column without ever quoting its content.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileRulesText, compileRulesTexts, loadRules } from '../../src/config/load.js';
import { TOKEN_FILE_MAX_BYTES } from '../../src/config/admin-token.js';
import { makeTempDir } from '../helpers/interop.js';

const BASE = `listeners: ["127.0.0.1:8443"]\nbackends:\n  web: { servers: ["127.0.0.1:4443"] }\ndefault: web\n`;
const TOKEN = '3f9a1c0b7e2d4a6f8b1c3e5d7f9a0b2c';

function issues(text: string, file = 'a.yaml'): { line: number; col: number; message: string }[] {
  const r = compileRulesText(text, file);
  assert.equal(r.ok, false, 'expected the rule file to be refused');
  return r.ok ? [] : r.issues.map(({ line, col, message }) => ({ line, col, message }));
}

/** A rule file in a temporary directory whose admin section names `tokenFile`; returns its path. */
function rulesWithToken(t: TestContext, tokenFile: string, content?: string | Buffer): { dir: string; file: string } {
  const dir = makeTempDir(t, 'portplex-token-');
  if (content !== undefined) writeFileSync(join(dir, tokenFile), content);
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, `${BASE}admin:\n  listen: "127.0.0.1:9900"\n  token_file: ${JSON.stringify(tokenFile)}\n`);
  return { dir, file };
}

describe('admin.allowed_hosts', () => {
  it('lowercases names and writes addresses canonically (IPv6 with or without brackets)', () => {
    const r = compileRulesText(`${BASE}admin: { listen: ":9900", allowed_hosts: [Portplex-Admin.Monitoring.svc, "192.0.2.7", "[FD00:0::1]", "::1", localhost] }\n`, 'a.yaml');
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    assert.deepEqual(r.rules.admin?.allowedHosts, ['portplex-admin.monitoring.svc', '192.0.2.7', 'fd00::1', '::1', 'localhost']);
  });

  it('refuses a non-list, ports, wildcards and junk, each where it stands', () => {
    const notList = issues(`${BASE}admin: { listen: ":9900", allowed_hosts: portplex.svc }\n`);
    assert.deepEqual(notList.map((i) => [i.line, i.col]), [[5, 42]]);
    assert.match(notList[0]!.message, /admin\.allowed_hosts must be a list/);
    const bad = issues(`${BASE}admin:\n  listen: ":9900"\n  allowed_hosts:\n    - ok.example\n    - "a.example:9900"\n    - "*.example"\n    - "a b"\n    - ""\n`);
    assert.deepEqual(bad.map((i) => [i.line, i.col]), [[9, 7], [10, 7], [11, 7], [12, 7]]);
    for (const i of bad.slice(0, 3)) assert.match(i.message, /is neither a host name nor an IP address \(no port, no wildcard/);
    assert.match(bad[3]!.message, /must be a non-empty string/);
  });
});

describe('admin.token_file', () => {
  it('is read when the rules load, relative to the rule file; only its SHA-256 is kept, surrounding whitespace ignored', (t) => {
    const { dir, file } = rulesWithToken(t, 'token', `  ${TOKEN}\r\n`);
    const r = loadRules(file);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    assert.deepEqual(r.rules.admin?.tokenFile, { path: join(dir, 'token'), pos: { file, line: 7, col: 15 } });
    assert.deepEqual(Buffer.from(r.rules.admin!.tokenDigest!), createHash('sha256').update(TOKEN).digest());
    assert.deepEqual(r.rules.warnings, []);
    assert.ok(!JSON.stringify({ ...r.rules, backends: [] }).includes(TOKEN), 'the token itself is not in the compiled rules');
  });

  it('an absolute path, and a rules directory: relative to the file that names it', (t) => {
    const dir = makeTempDir(t, 'portplex-token-');
    mkdirSync(join(dir, 'rules'));
    mkdirSync(join(dir, 'secret'));
    writeFileSync(join(dir, 'secret', 'token'), TOKEN);
    writeFileSync(join(dir, 'rules', '10-main.yaml'), BASE);
    writeFileSync(join(dir, 'rules', '20-admin.yaml'), 'admin:\n  listen: "127.0.0.1:9900"\n  token_file: ../secret/token\n');
    const r = loadRules(join(dir, 'rules'));
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    assert.equal(r.rules.admin?.tokenFile?.path, join(dir, 'secret', 'token'));
    const abs = rulesWithToken(t, join(dir, 'secret', 'token'));
    assert.ok(loadRules(abs.file).ok);
  });

  it('a missing file, a directory, a FIFO, an empty or blank file, a bad token and a huge file are refused at the key, never quoting the content', (t) => {
    const secretish = 'hunter2 with spaces';
    const cases: [string, string | Buffer | undefined, RegExp][] = [
      ['missing', undefined, /missing cannot be read: ENOENT \(it must be readable by the user portplex runs as\)/],
      ['empty', '', /empty is empty: write a token into it, e\.g\. `openssl rand -hex 32 > FILE`/],
      ['blank', ' \n\t\r\n', /blank is empty/],
      ['spaces', secretish, /spaces holds characters a bearer token cannot have/],
      ['two-lines', `${TOKEN}\n${TOKEN}\n`, /holds characters a bearer token cannot have/],
      ['latin1', Buffer.from([0x61, 0xe9, 0x62]), /holds characters a bearer token cannot have/],
      ['nul', `${TOKEN}\0`, /holds characters a bearer token cannot have/],
      ['huge', 'a'.repeat(TOKEN_FILE_MAX_BYTES + 1), new RegExp(`is larger than ${TOKEN_FILE_MAX_BYTES} bytes`)],
    ];
    for (const [name, content, why] of cases) {
      const { file } = rulesWithToken(t, name, content);
      const r = loadRules(file);
      assert.equal(r.ok, false, name);
      if (r.ok) continue;
      assert.equal(r.code, 'PORTPLEX_ERR_RULES_INVALID');
      assert.deepEqual(r.issues.map((i) => [i.file, i.line, i.col]), [[file, 7, 15]], name);
      assert.match(r.issues[0]!.message, why, name);
      assert.ok(!r.issues[0]!.message.includes(secretish), 'the content is never quoted');
    }
    const dirCase = rulesWithToken(t, '.');
    assert.match(JSON.stringify(loadRules(dirCase.file)), /is not a regular file/);
    const fifo = rulesWithToken(t, 'fifo');
    execFileSync('mkfifo', [join(fifo.dir, 'fifo')]);
    // Opened without waiting for a writer: the load answers at once.
    assert.match(JSON.stringify(loadRules(fifo.file)), /fifo is not a regular file/);
  });

  it('a short token is a warning at the key, not an error', (t) => {
    const { file } = rulesWithToken(t, 'token', 'abc123');
    const r = loadRules(file);
    assert.ok(r.ok);
    assert.deepEqual(r.rules.warnings.map((w) => [w.line, w.col]), [[7, 15]]);
    assert.match(r.rules.warnings[0]!.message, /the token has 6 characters; use at least 16 random ones/);
  });

  it('is not read when compiled for a worker (readAdminToken: false): the endpoint then fails closed', (t) => {
    const { file } = rulesWithToken(t, 'missing');
    const text = `${BASE}admin:\n  listen: "127.0.0.1:9900"\n  token_file: missing\n`;
    const r = compileRulesTexts([{ file, text }], file, { readAdminToken: false });
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    assert.ok(r.rules.admin?.tokenFile !== undefined && r.rules.admin.tokenDigest === undefined);
    assert.equal(compileRulesTexts([{ file, text }], file).ok, false, 'the primary and check read it');
  });

  it('must be a non-empty string', () => {
    const found = issues(`${BASE}admin: { listen: ":9900", token_file: "" }\n`);
    assert.deepEqual(found.map((i) => [i.line, i.col, i.message]), [[5, 39, 'admin.token_file must be a non-empty string']]);
  });
});
