/**
 * deploy/Dockerfile, checked without a Docker engine: the stages, the non-root user, the rules
 * volume and its default rules, the build context the .dockerignore lets through, the image's
 * compile step, and the HEALTHCHECK command run for real against an HTTP server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, runTool } from '../helpers/interop.js';
import { copies, dockerignore, execForm, parseDockerfile, type Stage } from './dockerfile.js';
import { compileDeployRules, durationMs, flagValue, listenerPorts, readRepoFile, REPO_ROOT } from './support.js';

const stages = parseDockerfile(readRepoFile('deploy/Dockerfile'));
const build = stages[0]!;
const runtime = stages.at(-1)!;
const all = (s: Stage, cmd: string): string[] => s.instructions.filter((i) => i.cmd === cmd).map((i) => i.args);
const one = (s: Stage, cmd: string): string => {
  const found = all(s, cmd);
  assert.equal(found.length, 1, `one ${cmd} in the stage FROM ${s.image}, found ${found.length}`);
  return found[0]!;
};

test('two stages on the same Node 20 slim base; the runtime stage installs production dependencies only', () => {
  assert.equal(stages.length, 2);
  assert.equal(build.name, 'build');
  for (const s of stages) assert.equal(s.image, 'node:20-bookworm-slim');
  const engines = (JSON.parse(readRepoFile('package.json')) as { engines: { node: string } }).engines.node;
  assert.equal(engines, '>=20', 'the base image must satisfy package.json engines');
  assert.ok(all(build, 'RUN').some((r) => /\bnpx tsc -p deploy\/tsconfig\.image\.json\b/.test(r)));
  const runtimeRuns = all(runtime, 'RUN').join('\n');
  assert.match(runtimeRuns, /npm ci --omit=dev --ignore-scripts/);
  assert.doesNotMatch(runtimeRuns, /\btsc\b|npm (install|i) /);
  // Only compiled sources come from the build stage; no TypeScript, tests or dev dependencies.
  const fromBuild = copies(runtime).filter((c) => c.from !== undefined);
  assert.deepEqual(fromBuild.map((c) => [c.from, c.sources, c.dest]), [['build', ['/app/dist/src'], './dist/src'], ['build', ['/app/build/Release/portplex.node'], './build/Release/portplex.node']]);
  for (const c of copies(runtime)) for (const src of c.sources) assert.doesNotMatch(src, /^(src|test|bench|node_modules)\b/);
});

test('runs as a fixed numeric non-root UID:GID created in the runtime stage', () => {
  const user = one(runtime, 'USER');
  const m = /^(\d+):(\d+)$/.exec(user);
  assert.ok(m, `USER ${user}: must be numeric uid:gid (Kubernetes runAsNonRoot cannot check a name)`);
  assert.notEqual(m[1], '0');
  const runs = all(runtime, 'RUN').join('\n');
  assert.match(runs, new RegExp(`groupadd .*--gid ${m[2]} portplex`));
  assert.match(runs, new RegExp(`useradd .*--uid ${m[1]} --gid portplex`));
  // The user is switched to after every RUN: nothing the image builds is owned by it.
  const cmds = runtime.instructions.map((i) => i.cmd);
  assert.ok(cmds.indexOf('USER') > Math.max(cmds.lastIndexOf('RUN'), cmds.lastIndexOf('COPY')));
});

test('the rules are the volume /etc/portplex, its default rules compile and match EXPOSE, CMD and HEALTHCHECK', () => {
  assert.deepEqual(execForm(one(runtime, 'VOLUME'), 'VOLUME'), ['/etc/portplex']);
  const ruleCopies = copies(runtime).filter((c) => c.dest.startsWith('/etc/portplex'));
  assert.deepEqual(ruleCopies.map((c) => [c.sources, c.dest]), [[['deploy/docker/portplex.yaml'], '/etc/portplex/portplex.yaml']]);
  const { rules, adminListen } = compileDeployRules(readRepoFile('deploy/docker/portplex.yaml'), 'deploy/docker/portplex.yaml');

  const entry = execForm(one(runtime, 'ENTRYPOINT'), 'ENTRYPOINT');
  assert.deepEqual(entry, ['node', '/app/dist/src/cli.js']);
  assert.equal(one(runtime, 'WORKDIR'), '/app');
  const cmd = execForm(one(runtime, 'CMD'), 'CMD');
  assert.equal(cmd[0], 'run');
  assert.equal(flagValue(cmd, '--rules'), '/etc/portplex');

  const exposed = one(runtime, 'EXPOSE').split(/\s+/).map(Number);
  for (const p of listenerPorts(rules)) {
    assert.ok(exposed.includes(p), `listener port ${p} is EXPOSEd`);
    assert.ok(p >= 1024, `listener port ${p}: the image has no capability to bind below 1024`);
  }
  assert.ok(adminListen, 'the default rules have an admin section for the HEALTHCHECK');
  assert.ok(exposed.includes(adminListen.port));
  assert.match(one(runtime, 'HEALTHCHECK'), new RegExp(`http://127\\.0\\.0\\.1:${adminListen.port}/healthz`));
  // The demo backends' certificate, where src/demo/services.ts looks for it from /app/dist/src/demo/.
  if (rules.demo.length > 0) assert.ok(copies(runtime).some((c) => c.sources.includes('rules/demo-cert') && c.dest === './rules/demo-cert'));
  assert.equal(one(runtime, 'STOPSIGNAL'), 'SIGTERM');
});

function contextFiles(dir = ''): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (rel === '.git' || e.isSymbolicLink()) return [rel];
    return e.isDirectory() ? contextFiles(rel) : [rel];
  });
}

test('.dockerignore lets through exactly what the Dockerfile copies', () => {
  const excluded = dockerignore(readRepoFile('.dockerignore'));
  const sources = stages.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
  for (const src of sources) {
    assert.ok(existsSync(join(REPO_ROOT, src)), `COPY ${src}: no such file`);
    const files = statSync(join(REPO_ROOT, src)).isDirectory() ? contextFiles(src) : [src];
    for (const f of files) assert.equal(excluded(f), false, `${f} (COPY ${src}) is excluded by .dockerignore`);
  }
  const sent = contextFiles().filter((f) => !excluded(f));
  const stray = sent.filter((f) => !sources.some((s) => f === s || f.startsWith(`${s}/`)));
  assert.deepEqual(stray, [], 'files in the build context that no COPY uses');
  for (const f of ['node_modules/yaml/package.json', 'dist/src/cli.js', '.git/HEAD', 'test/config/rules.test.ts', 'deploy/compose/certs/privkey.pem']) {
    assert.equal(excluded(f), true, `${f} must stay out of the build context`);
  }
});

test('deploy/tsconfig.image.json compiles src/ alone into the dist/src/cli.js the ENTRYPOINT runs', async (t) => {
  const out = makeTempDir(t, 'portplex-image-tsc-');
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const r = await runTool(t, process.execPath, [tsc, '-p', join(REPO_ROOT, 'deploy/tsconfig.image.json'), '--outDir', out], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(existsSync(join(out, 'src/cli.js')));
  assert.ok(!existsSync(join(out, 'test')), 'tests are not compiled into the image');
});

async function answering(status: number | 'hang'): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (status === 'hang') return;
    res.writeHead(req.url === '/healthz' ? status : 404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

test('the HEALTHCHECK command: exit 0 on 200 from /healthz, 1 on 503, on no listener and on no answer in time', async (t) => {
  const hc = one(runtime, 'HEALTHCHECK');
  const argv = execForm(hc, 'HEALTHCHECK');
  assert.deepEqual(argv.slice(0, 2), ['node', '-e']);
  const script = argv[2]!;
  // The script's own deadline must come before Docker's --timeout, or Docker kills it first.
  const abortMs = Number(/AbortSignal\.timeout\((\d+)\)/.exec(script)?.[1]);
  assert.ok(abortMs > 0 && abortMs < durationMs(/--timeout=(\S+)/.exec(hc)?.[1], 'HEALTHCHECK --timeout'));
  const run = async (port: number): Promise<number | null> => {
    const url = 'http://127.0.0.1:9900/';
    assert.ok(script.includes(url));
    return (await runTool(t, process.execPath, ['-e', script.replace(url, `http://127.0.0.1:${port}/`)], { timeoutMs: 15_000 })).code;
  };
  for (const [status, code] of [[200, 0], [503, 1], ['hang', 1]] as const) {
    const { server, port } = await answering(status);
    try {
      assert.equal(await run(port), code, `HEALTHCHECK against ${status}`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }
  const { server, port } = await answering(200);
  await new Promise<void>((r) => server.close(() => r()));
  assert.equal(await run(port), 1, 'nothing listening');
});
