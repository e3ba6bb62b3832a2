/**
 * The `npm start` target, exactly: `node dist/src/cli.js run --rules rules/portplex.yaml` as a
 * child process on 127.0.0.1:8443 with its built-in demo backends, driven by curl, openssl
 * s_client and a silent raw socket, then stopped with SIGTERM. Checks the README's quick start
 * and the one-JSON-line-per-connection log.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describeExit, requireTools, runTool, spawnBounded, withTimeout } from '../helpers/interop.js';
import { withMachineLock } from '../helpers/machine-lock.js';

/** dist/test/interop/demo-cli.test.js -> repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PORT = 8443;

type Line = Record<string, unknown>;

function jsonLines(text: string): Line[] {
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(raw) as Line);
    } catch {
      /* a line still being written */
    }
  }
  return lines;
}

const clientPort = (l: Line): number | undefined => (l.client as { port?: number } | undefined)?.port;

test('npm start target: rules/portplex.yaml on 127.0.0.1:8443 with curl, openssl s_client and a silent client', async (t) => {
  const tools = requireTools(t, ['curl', 'openssl']);
  if (tools === undefined) return;
  // Fixed ports: another test run on this machine waits for this one instead of failing to bind.
  await withMachineLock('npm-start-ports', () => quickStart(t, tools));
});

async function quickStart(t: TestContext, tools: Record<'curl' | 'openssl', string>): Promise<void> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  const px = spawnBounded(t, process.execPath, ['dist/src/cli.js', 'run', '--rules', 'rules/portplex.yaml', '--log-format', 'json'], {
    cwd: ROOT,
    env,
    name: 'portplex',
    lifetimeMs: 30_000,
  });
  try {
    try {
      await px.waitForOutput((text) => jsonLines(text).some((l) => l.msg === 'listening'), 10_000, 'the "listening" log line');
    } catch (e) {
      const inUse = /EADDRINUSE/.test(px.stderr() + px.stdout());
      throw new Error(
        (inUse
          ? `portplex could not bind 127.0.0.1:${PORT} or a demo port (18443, 18080, 18022, 18023): already in use. ` +
            'Stop whatever holds it (another `npm start`?) and run the tests again.\n'
          : '') + (e as Error).message,
      );
    }
    const listening = jsonLines(px.stdout()).find((l) => l.msg === 'listening')!;
    assert.equal(listening.address, `127.0.0.1:${PORT}`);

    /** Resolves with the first "connection closed" line matching `pred`, waiting up to 5 s for it. */
    const closeLine = async (what: string, pred: (l: Line) => boolean): Promise<Line> => {
      const text = await px.waitForOutput((s) => jsonLines(s).some((l) => l.msg === 'connection closed' && pred(l)), 5000, `the close log line of ${what}`);
      return jsonLines(text).find((l) => l.msg === 'connection closed' && pred(l))!;
    };

    await t.test('curl -k --resolve demo.test:8443:127.0.0.1 https://demo.test:8443/ reaches the "web" demo backend', async () => {
      const r = await runTool(t, tools.curl, ['-sS', '-k', '--max-time', '10', '--resolve', `demo.test:${PORT}:127.0.0.1`, '-w', '\n%{local_port}\n', `https://demo.test:${PORT}/`]);
      assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
      const localPort = Number(r.stdout.trimEnd().split('\n').pop());
      assert.match(r.stdout, /portplex demo backend "web" \(https\)/);
      assert.ok(r.stdout.includes(`client address: 127.0.0.1:${localPort} (from PROXY v2 header)`), r.stdout);
      assert.match(r.stdout, /TLS: SNI demo\.test, ALPN http\/1\.1/);
      const line = await closeLine('curl https', (l) => clientPort(l) === localPort);
      assert.equal(line.route, 'https');
      assert.equal(line.backend, 'web');
      assert.equal(line.sni, 'demo.test');
      // curl closes right after the body; the backend's TLS close_notify can then arrive at a closed
      // socket, and the client's kernel answers with a RST (about one run in ten): a normal end too.
      assert.ok(line.reason === 'done' || (line.reason === 'client-error' && line.detail === 'ECONNRESET'), JSON.stringify(line));
    });

    await t.test('curl http://127.0.0.1:8443/hello reaches "plain-http" with a PROXY v1 header', async () => {
      const r = await runTool(t, tools.curl, ['-sS', '--max-time', '10', '-w', '\n%{local_port}\n', `http://127.0.0.1:${PORT}/hello`]);
      assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
      const localPort = Number(r.stdout.trimEnd().split('\n').pop());
      assert.match(r.stdout, /portplex demo backend "plain-http" \(http\)/);
      assert.ok(r.stdout.includes(`client address: 127.0.0.1:${localPort} (from PROXY v1 header)`), r.stdout);
      assert.match(r.stdout, /request: GET \/hello Host: 127\.0\.0\.1:8443/);
      const line = await closeLine('curl http', (l) => clientPort(l) === localPort);
      assert.equal(line.route, 'http');
      assert.equal(line.backend, 'plain-http');
      assert.equal(line.http_host, '127.0.0.1'); // logged without the port
    });

    await t.test('openssl s_client -servername www.demo.test -alpn h2,http/1.1 negotiates http/1.1 with the web backend', async () => {
      const r = await runTool(
        t,
        tools.openssl,
        ['s_client', '-connect', `127.0.0.1:${PORT}`, '-servername', 'www.demo.test', '-alpn', 'h2,http/1.1', '-ign_eof'],
        { input: 'GET / HTTP/1.1\r\nHost: www.demo.test\r\nConnection: close\r\n\r\n' },
      );
      assert.equal(r.code, 0, `openssl s_client failed: ${r.stderr}\n${r.stdout}`);
      assert.match(r.stdout, /ALPN protocol: http\/1\.1/);
      assert.match(r.stdout, /HTTP\/1\.1 200 OK/);
      assert.match(r.stdout, /portplex demo backend "web" \(https\)/);
      assert.match(r.stdout, /client address: 127\.0\.0\.1:\d+ \(from PROXY v2 header\)/);
      assert.match(r.stdout, /TLS: SNI www\.demo\.test, ALPN http\/1\.1/);
      const line = await closeLine('openssl s_client', (l) => l.sni === 'www.demo.test');
      assert.equal(line.route, 'https');
      assert.deepEqual(line.alpn, ['h2', 'http/1.1']);
    });

    await t.test('a client that sends nothing gets the "other" banner after ~500 ms (route quiet-client), and its echo', async () => {
      const socket = connect({ host: '127.0.0.1', port: PORT });
      t.after(() => socket.destroy());
      socket.on('error', () => undefined);
      await withTimeout(new Promise<void>((r, j) => socket.once('connect', r).once('error', j)), 5000, 'connect to 127.0.0.1:8443');
      const started = performance.now();
      const localPort = socket.localPort!;
      let got = '';
      const waitFor = (needle: string, what: string): Promise<void> =>
        withTimeout(
          new Promise<void>((resolve, reject) => {
            const check = (): void => {
              if (got.includes(needle)) {
                socket.removeListener('data', onData);
                resolve();
              }
            };
            const onData = (c: Buffer): void => {
              got += c.toString('utf8');
              check();
            };
            socket.on('data', onData);
            socket.once('close', () => reject(new Error(`connection closed before ${what}; got: ${JSON.stringify(got)}`)));
            check();
          }),
          5000,
          what,
        );
      await waitFor('\r\n', 'the banner');
      const waited = performance.now() - started;
      assert.ok(waited >= 450, `the banner came after ${waited.toFixed(0)} ms: before the 500 ms silence had passed`);
      assert.ok(
        waited < 2900,
        `the banner came after ${waited.toFixed(0)} ms: the silent route should fire at 500 ms, not at the 3 s inspect timeout ` +
          '(a silence timer that fires a little early, then a re-arm that finds no later duration, waits for the deadline instead)',
      );
      assert.ok(got.startsWith(`portplex demo backend "other": client address 127.0.0.1:${localPort} (from PROXY v2 header).`), got);
      got = '';
      socket.write('ping portplex\n');
      await waitFor('ping portplex\n', 'the echo');
      socket.end();
      const line = await closeLine('the silent client', (l) => clientPort(l) === localPort);
      assert.equal(line.route, 'quiet-client');
      assert.equal(line.backend, 'other');
      assert.equal(line.peeked, 0);
    });

    await t.test('SIGTERM: exits 0, and every connection above wrote exactly one close line with its route', async () => {
      const exit = await withTimeout(px.stop('SIGTERM', 5000), 8000, 'portplex to exit after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, `portplex ended with ${describeExit(exit)}; stderr:\n${px.stderr()}`);
      const lines = jsonLines(px.stdout());
      assert.ok(lines.some((l) => l.msg === 'draining: no new connections' && l.signal === 'SIGTERM'), 'a "draining" log line');
      const closed = lines.filter((l) => l.msg === 'connection closed');
      assert.deepEqual(
        closed.map((l) => l.route),
        ['https', 'http', 'https', 'quiet-client'],
        `close lines:\n${closed.map((l) => JSON.stringify(l)).join('\n')}`,
      );
      assert.equal(new Set(closed.map((l) => l.id)).size, closed.length, 'one line per connection (distinct ids)');
      assert.equal(px.stderr(), '', 'nothing on stderr');
    });
  } finally {
    // The ports are free again before the lock is: the next run binds them at once.
    await px.stop('SIGTERM', 3000);
  }
}
