#!/usr/bin/env node
/** The command line. The only module that exits the process. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { formatIssues, formatWarnings, loadRules } from './config/load.js';
import { parseDuration } from './config/units.js';
import { DEFAULT_TIMEOUT_MS, doctorExitCode, doctorSummary, formatDiagnosis, runDoctor } from './tools/doctor/diagnose.js';
import { ERROR_CODES } from './errors.js';
import { preflight, systemHostFacts } from './supervisor/preflight.js';
import { run } from './supervisor/run.js';
import { DATAPLANE_ASKS, isDataplaneAsk } from './native/choose.js';
import { defaultWorkerCount } from './supervisor/worker-count.js';
import { transparentSetup } from './supervisor/transparent-setup.js';
import { explainBytes, explainConnection, formatExplanation, type ExplainOptions } from './tools/explain/explain-cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const DEFAULT_RULES = 'rules/portplex.yaml';

const program = new Command();
program
  .name('portplex')
  .description('An L4 port multiplexer: one port, peek at the first bytes, route by TLS SNI/ALPN/version, HTTP, SSH and more.')
  .version(pkg.version, '-V, --version')
  .addHelpText(
    'after',
    `
Examples:
  portplex run --rules rules/portplex.yaml          run with a rule file
  portplex check /etc/portplex/portplex.yaml        validate a rule file before a reload
  portplex doctor --rules /etc/portplex/portplex.yaml   does each backend expect the PROXY header it is sent?
  curl -k --resolve demo.test:8443:127.0.0.1 https://demo.test:8443/   (against the demo rules)

Error codes: ${Object.keys(ERROR_CODES).join(', ')} (see README).`,
  );

program
  .command('run')
  .description('listen and route connections according to the rules (a file, or a directory of *.yaml files)')
  .option('-r, --rules <path>', 'rule file, or a directory whose *.yaml files are merged in name order', DEFAULT_RULES)
  .option('--log-level <level>', 'override log.level from the rule file')
  .option('--log-format <format>', 'json or pretty (default: pretty on a terminal, else json)')
  .option('--user <user>', 'drop to this user after binding (overrides `user:` in the rules)')
  .option('--group <group>', 'drop to this group after binding (overrides `group:`)')
  .option('--allow-root', 'keep running as root when no user is configured')
  .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long established connections may finish', '30s')
  .option('--workers <n>', 'worker processes sharing the listeners (default: one per core, within the container\'s CPU limit; 0: none, run in this process)')
  .option('--no-watch', 'do not reload when the rule files change on disk (SIGHUP still reloads)')
  .option('--dataplane <plane>', 'who owns the TCP sockets: auto (the native addon where it is built, else node:net), native (or refuse to start), js (overrides PORTPLEX_DATAPLANE and `dataplane:`)')
  .action(async (opts: { rules: string; logLevel?: string; logFormat?: string; user?: string; group?: string; allowRoot?: boolean; drainTimeout: string; workers?: string; watch: boolean; dataplane?: string }) => {
    const graceMs = parseDuration(opts.drainTimeout);
    if (graceMs === undefined) {
      process.stderr.write(`portplex run: --drain-timeout "${opts.drainTimeout}": expected a duration (e.g. 30s, 500ms, 2m)\n`);
      process.exit(2);
    }
    const workers = opts.workers === undefined ? defaultWorkerCount() : /^\d{1,3}$/.test(opts.workers) ? Number(opts.workers) : NaN;
    if (!Number.isInteger(workers) || workers > 256) {
      process.stderr.write(`portplex run: --workers "${opts.workers}": expected a number from 0 to 256\n`);
      process.exit(2);
    }
    if (opts.dataplane !== undefined && !isDataplaneAsk(opts.dataplane)) {
      process.stderr.write(`portplex run: --dataplane "${opts.dataplane}": expected ${DATAPLANE_ASKS.join(', ')}\n`);
      process.exit(2);
    }
    const code = await run({
      rules: opts.rules,
      logLevel: opts.logLevel,
      logFormat: opts.logFormat,
      user: opts.user,
      group: opts.group,
      allowRoot: opts.allowRoot === true,
      graceMs,
      workers,
      watch: opts.watch,
      dataplane: opts.dataplane,
    });
    if (code >= 0) process.exit(code);
  });

program
  .command('check')
  .description('validate a rule file or directory: exits 0 when it is valid, 2 with file:line:col for every problem otherwise')
  .argument('<file>', 'rule file, or a directory of *.yaml files')
  .action((file: string) => {
    const loaded = loadRules(file);
    if (!loaded.ok) {
      process.stderr.write(formatIssues(loaded.code, loaded.issues) + '\n');
      process.exit(2);
    }
    const r = loaded.rules;
    // What `run` would refuse on this machine, started as this check is.
    const machine = preflight(r, systemHostFacts());
    const warnings = [...r.warnings, ...machine.warnings];
    if (warnings.length > 0) process.stderr.write(formatWarnings(warnings) + '\n');
    if (machine.errors.length > 0) {
      process.stderr.write(machine.errors.map((e) => formatIssues(e.code, [e])).join('\n') + '\n');
      process.exit(2);
    }
    process.stdout.write(`${file}: OK — ${r.listeners.length} listener(s), ${r.backends.size} backend(s), ${r.routes.length} route(s)${r.defaultBackend ? `, default ${r.defaultBackend}` : ''}\n`);
  });

const transparent = program.command('transparent').description('transparent mode: servers see the client\'s address as the source of the connection');
transparent
  .command('setup')
  .description('print the nftables and policy-routing rules that bring transparent servers\' answers back to portplex; --apply applies them (idempotent), --remove removes them')
  .option('-r, --rules <path>', 'rule file or directory', DEFAULT_RULES)
  .option('--apply', 'apply the rules (root or CAP_NET_ADMIN; safe to repeat)')
  .option('--remove', 'remove what --apply added')
  .option('--mark <n>', 'firewall mark of the answers', '0x1')
  .option('--table <n>', 'routing table the marked answers look up', '100')
  .action((opts: { rules: string; apply?: boolean; remove?: boolean; mark: string; table: string }) => {
    const mark = Number(opts.mark);
    const table = Number(opts.table);
    if (!Number.isInteger(mark) || mark < 1 || mark > 0xffffffff) {
      process.stderr.write(`portplex transparent setup: --mark "${opts.mark}": expected a number from 1 to 0xffffffff\n`);
      process.exit(2);
    }
    if (!Number.isInteger(table) || table < 1 || table > 0xfffffffe || table === 253 || table === 254 || table === 255) {
      process.stderr.write(`portplex transparent setup: --table "${opts.table}": expected a routing table number from 1 to 4294967294, not 253-255 (default, main, local)\n`);
      process.exit(2);
    }
    if (opts.apply === true && opts.remove === true) {
      process.stderr.write('portplex transparent setup: --apply and --remove together: choose one\n');
      process.exit(2);
    }
    process.exit(transparentSetup({ rules: opts.rules, apply: opts.apply === true, remove: opts.remove === true, mark, table }));
  });

program
  .command('doctor')
  .description(
    'probe the first primary server of every backend with and without a PROXY header and tell whether it expects the header it is sent: ' +
      'one line per backend (ok, mismatch, down, unknown) with a hint; exits 0 when all are ok or unknown, 1 when any is mismatch or down, 2 for a bad rule file',
  )
  .option('-r, --rules <file>', 'rule file', DEFAULT_RULES)
  .option('--timeout <ms>', `per probe: connect and answer timeout (milliseconds, or 2s, 500ms...)`, String(DEFAULT_TIMEOUT_MS))
  .option('--json', 'print the results as JSON instead of one line per backend')
  .action(async (opts: { rules: string; timeout: string; json?: boolean }) => {
    const timeoutMs = parseDuration(opts.timeout);
    if (timeoutMs === undefined || timeoutMs < 1 || timeoutMs > 600_000) {
      process.stderr.write(`portplex doctor: --timeout "${opts.timeout}": expected a duration from 1ms to 10m (e.g. 2000, 2s, 500ms)\n`);
      process.exit(2);
    }
    const loaded = loadRules(opts.rules);
    if (!loaded.ok) {
      process.stderr.write(formatIssues(loaded.code, loaded.issues) + '\n' + `${loaded.code}: ${ERROR_CODES[loaded.code]}\n`);
      process.exit(2);
    }
    const results = await runDoctor(loaded.rules, { timeoutMs });
    const code = doctorExitCode(results);
    const text =
      opts.json === true
        ? JSON.stringify({ rules: opts.rules, timeoutMs, exitCode: code, results }, null, 2) + '\n'
        : results.map((d) => formatDiagnosis(d) + '\n').join('');
    if (opts.json !== true) process.stderr.write(doctorSummary(results) + '\n');
    // Exit once stdout is flushed (it may be a pipe).
    process.stdout.write(text, () => process.exit(code));
  });

program
  .command('explain')
  .description('which route would take a connection, and why: every route in order with match / no-match / need-more')
  .argument('<file>', 'rule file')
  .option('--sni <name>', 'build a real ClientHello with this server name')
  .option('--alpn <list>', 'ALPN protocols offered by that ClientHello, comma-separated')
  .option('--tls-version <v>', 'highest TLS version of that ClientHello: 1.2 or 1.3')
  .option('--hex <bytes>', 'the client\'s first bytes as hex')
  .option('--capture <file>', 'a file of raw client bytes')
  .option('--src <address>', 'client address', '192.0.2.1')
  .option('--local-port <port>', 'the port the client connected to', '443')
  .option('--after <ms>', 'how long the client has been connected (for silent: conditions)', '0')
  .option('--more', 'more bytes may still come (default: these are all the client sent)')
  .option('--json', 'print the explanation as JSON')
  .addHelpText('after', '\nExamples:\n  portplex explain rules/portplex.yaml --sni demo.test --alpn h2,http/1.1\n  portplex explain rules.yaml --hex 5353482d322e302d\n  portplex explain rules.yaml --after 600   # a client that sent nothing for 600 ms')
  .action(async (file: string, opts: ExplainOptions) => {
    const loaded = loadRules(file);
    if (!loaded.ok) {
      process.stderr.write(formatIssues(loaded.code, loaded.issues) + '\n');
      process.exit(2);
    }
    const bytes = await explainBytes(opts);
    if (typeof bytes === 'string') {
      process.stderr.write(`portplex explain: ${bytes}\n`);
      process.exit(2);
    }
    const result = explainConnection(loaded.rules, bytes, opts);
    process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : formatExplanation(result, bytes) + '\n');
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`portplex: ${(e as Error).message}\n`);
  process.exit(1);
});
