#!/usr/bin/env node
/** The command line. The only module that exits the process. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { formatIssues, formatWarnings, loadRulesFile } from './config/load.js';
import { formatHostPort, parseDuration } from './config/units.js';
import { DEFAULT_TIMEOUT_MS, doctorExitCode, doctorSummary, formatDiagnosis, runDoctor } from './doctor/diagnose.js';
import { ERROR_CODES, PortplexError } from './errors.js';
import { createLogger } from './observe/logger.js';
import { startPortplex } from './app.js';
import { dropPrivileges, planPrivileges } from './supervisor/privileges.js';
import { explainBytes, explainConnection, formatExplanation, type ExplainOptions } from './router/explain-cli.js';

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
  .description('listen and route connections according to a rule file')
  .option('-r, --rules <file>', 'rule file', DEFAULT_RULES)
  .option('--log-level <level>', 'override log.level from the rule file')
  .option('--log-format <format>', 'json or pretty (default: pretty on a terminal, else json)')
  .option('--user <user>', 'drop to this user after binding (overrides `user:` in the rules)')
  .option('--group <group>', 'drop to this group after binding (overrides `group:`)')
  .option('--allow-root', 'keep running as root when no user is configured')
  .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long established connections may finish', '30s')
  .action(async (opts: { rules: string; logLevel?: string; logFormat?: string; user?: string; group?: string; allowRoot?: boolean; drainTimeout: string }) => {
    const loaded = loadRulesFile(opts.rules);
    if (!loaded.ok) {
      process.stderr.write(formatIssues(loaded.code, loaded.issues) + '\n' + `${loaded.code}: ${ERROR_CODES[loaded.code]}\n`);
      process.exit(2);
    }
    const rules = loaded.rules;
    if (rules.warnings.length > 0) process.stderr.write(formatWarnings(rules.warnings) + '\n');
    const prettyOpt = opts.logFormat === undefined ? {} : { pretty: opts.logFormat === 'pretty' };
    const log = createLogger({ level: opts.logLevel ?? rules.log.level, ...prettyOpt });
    const privileges = planPrivileges(opts.user ?? rules.user, opts.group ?? rules.group, { allowRoot: opts.allowRoot === true, uid: process.getuid?.() });
    if (privileges.kind === 'refuse') {
      process.stderr.write(`PORTPLEX_ERR_ROOT: ${privileges.message}\n`);
      process.exit(2);
    }
    if (privileges.kind === 'ignore') log.info(privileges.message);
    let running;
    try {
      running = await startPortplex(rules, log);
    } catch (e) {
      const code = e instanceof PortplexError ? e.code : 'PORTPLEX_ERR_LISTEN';
      process.stderr.write(`${code}: ${(e as Error).message}\n${ERROR_CODES[code]}\n`);
      process.exit(1);
    }
    if (privileges.kind === 'drop') {
      try {
        dropPrivileges(privileges);
        log.info({ user: privileges.user, group: privileges.group }, 'privileges dropped after binding');
      } catch (e) {
        process.stderr.write(`PORTPLEX_ERR_ROOT: cannot switch to user "${privileges.user}": ${(e as Error).message}\n`);
        process.exit(1);
      }
    }
    for (const d of running.demos) {
      log.info({ demo: d.config.name, kind: d.config.kind, listen: formatHostPort({ host: d.address.address, port: d.address.port }) }, 'demo backend listening (demo only)');
    }
    for (const l of running.listeners) {
      log.info({ listener: l.config.name, address: formatHostPort({ host: l.address.address, port: l.address.port }), routes: rules.routes.length }, 'listening');
    }
    // Drain: stop accepting, let established connections finish for the grace period, close the
    // rest, exit 0. A second signal exits at once.
    const graceMs = parseDuration(opts.drainTimeout) ?? 30_000;
    let draining = false;
    const stop = (signal: string): void => {
      if (draining) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      draining = true;
      log.info({ signal, grace_ms: graceMs, open: running.runtime().limits.openConnections }, 'draining: no new connections');
      void running.drain(graceMs).then((cut) => {
        log.info({ closed_at_deadline: cut }, 'drained: exiting');
        setTimeout(() => process.exit(0), 100).unref();
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

program
  .command('check')
  .description('validate a rule file: exits 0 when it is valid, 2 with file:line:col for every problem otherwise')
  .argument('<file>', 'rule file')
  .action((file: string) => {
    const loaded = loadRulesFile(file);
    if (!loaded.ok) {
      process.stderr.write(formatIssues(loaded.code, loaded.issues) + '\n');
      process.exit(2);
    }
    const r = loaded.rules;
    if (r.warnings.length > 0) process.stderr.write(formatWarnings(r.warnings) + '\n');
    process.stdout.write(`${file}: OK — ${r.listeners.length} listener(s), ${r.backends.size} backend(s), ${r.routes.length} route(s)${r.defaultBackend ? `, default ${r.defaultBackend}` : ''}\n`);
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
    const loaded = loadRulesFile(opts.rules);
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
    const loaded = loadRulesFile(file);
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
