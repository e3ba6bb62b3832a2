/**
 * `nginx -t` on the nginx files shipped under deploy/, with Debian's nginx. Only the certificate
 * paths change (to a throwaway self-signed pair made with openssl): nginx loads the certificate
 * and key at -t time. Nothing else needs substituting — the files name no host that would be
 * resolved while loading (no proxy_pass, set_real_ip_from takes an address) and -t binds nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, requireTools } from '../helpers/interop.js';
import { readRepoFile } from './support.js';
import { nginxTest, selfSignedCert, substitute, writeNginxConf } from './nginx.js';

const FILES = [
  // [file, its certificate, its key, whether warnings are refused]
  ['deploy/compose/nginx/default.conf', '/etc/nginx/certs/fullchain.pem', '/etc/nginx/certs/privkey.pem', true],
  // The older snippet writes `listen ... ssl http2`, which nginx 1.25.1 and later warn about.
  ['deploy/nginx-proxy-protocol.conf', '/etc/ssl/example.com.pem', '/etc/ssl/example.com.key', false],
] as const;

for (const [file, certPath, keyPath, noWarnings] of FILES) {
  test(`nginx -t accepts ${file}`, async (t) => {
    const tools = requireTools(t, ['nginx', 'openssl']);
    if (tools === undefined) return;
    const dir = makeTempDir(t, 'portplex-nginx-t-');
    const { cert, key } = await selfSignedCert(t, tools.openssl, dir);
    const server = substitute(readRepoFile(file), [[certPath, cert], [keyPath, key]], file);
    const r = await nginxTest(t, tools.nginx, dir, writeNginxConf(dir, server));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /test is successful/);
    if (noWarnings) assert.doesNotMatch(r.stderr, /\[(warn|emerg|alert)\]/, r.stderr);
  });
}

// -t checks syntax, not meaning: `real_ip_header proxy_protcol;` passes (any header name does).
// compose-live.test.ts runs the file behind portplex for that.
test('the nginx -t harness fails on a broken file (so the checks above can fail)', async (t) => {
  const tools = requireTools(t, ['nginx', 'openssl']);
  if (tools === undefined) return;
  const dir = makeTempDir(t, 'portplex-nginx-t-');
  const { cert, key } = await selfSignedCert(t, tools.openssl, dir);
  const server = substitute(readRepoFile(FILES[0][0]), [[FILES[0][1], cert], [FILES[0][2], key], ['listen 8443 ssl proxy_protocol;', 'listen 8443 ssl proxy_protcol;']], 'broken');
  const r = await nginxTest(t, tools.nginx, dir, writeNginxConf(dir, server));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /\[emerg\]/);
});
