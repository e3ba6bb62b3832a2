/**
 * `portplex doctor`: for each backend, does its server expect the PROXY header portplex is
 * configured to send?
 *
 * Per backend, the first primary server is probed (the others are not, and the line says so):
 *  - probe A exactly as configured: the header of `send_proxy` (built by outgoingHeader from the
 *    probe socket's own addresses) + a payload chosen from the routes that lead to the backend;
 *  - probe B the opposite: no header when configured v1/v2; a v2 header (and v1 if v2 fails) when
 *    configured off. When configured v1/v2 and both fail, the other version is tried too.
 *
 * Each answer is 'normal' (the server answered the payload in its protocol: a TLS handshake, an
 * HTTP status other than 400, an SSH key exchange, a banner without complaint), 'failed' (closed,
 * reset, silent, a TLS alert, HTTP 400, "Invalid SSH identification string"...) or 'unclear'.
 *
 * Verdicts: 'ok' when A is normal and B failed; 'mismatch' when A failed and B (or the other
 * version) is normal; 'down' when A could not connect; 'unknown' otherwise (both normal, both
 * failed, or an answer that is not clearly the expected protocol), saying what was seen. Never
 * throws.
 */
import type { BackendConfig, Condition, RouteConfig, RulesConfig, SendProxy, ServerConfig } from '../../config/types.js';
import { buildClientHello } from '../client-hello.js';
import { describePayload, probe, type Payload, type PayloadKind, type ProbeResult } from './probe.js';

export type Verdict = 'ok' | 'mismatch' | 'down' | 'unknown';

export interface PayloadPlan {
  readonly kind: PayloadKind;
  /** tls: the SNI to send (an exact `tls.sni` name of a route to this backend), if any. */
  readonly sni?: string;
  /** tls: ALPN names to offer (the exact `tls.alpn` names of such a route), if any. */
  readonly alpn?: readonly string[];
  /** http: the Host header (an exact `http.host` name of such a route, else the server's host). */
  readonly host?: string;
  /** Why this payload: which routes led to it. */
  readonly why: string;
}

export interface BackendDiagnosis {
  readonly backend: string;
  /** The server probed, "host:port". */
  readonly server: string;
  /** Says which server was probed when the backend has more than one. */
  readonly serverNote: string | undefined;
  readonly sendProxy: SendProxy;
  readonly verdict: Verdict;
  readonly explanation: string;
  readonly hint: string;
  /** mismatch: the send_proxy value the server appears to want. */
  readonly suggested?: SendProxy;
  /** The payload the verdict is based on, and why it was chosen. */
  readonly payload: PayloadKind | undefined;
  readonly payloadWhy: string | undefined;
  /** Every probe made, in order. */
  readonly probes: readonly ProbeResult[];
}

export interface DoctorOptions {
  /** Per probe: connect timeout (capped by the backend's connect_timeout) and answer timeout. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Wait for a server-speaks-first banner before sending. Default 250 ms. */
  readonly bannerWaitMs?: number;
  /** Backends probed at the same time. Default 8. */
  readonly concurrency?: number;
}

export const DEFAULT_TIMEOUT_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Payload choice (pure)

interface Hints {
  readonly protocols: ('tls' | 'http' | 'ssh' | 'silent')[];
  readonly sni: string[];
  readonly alpn: string[];
  readonly hosts: string[];
}

function addUnique<T>(to: T[], v: T): void {
  if (!to.includes(v)) to.push(v);
}

/** What a condition tree says about the protocol of the connections it takes (a `not:` says nothing). */
function hintsOf(c: Condition, h: Hints): void {
  switch (c.kind) {
    case 'protocol':
      for (const p of c.protocols) addUnique(h.protocols, p);
      return;
    case 'tls.sni':
      addUnique(h.protocols, 'tls');
      for (const p of c.patterns) if (p.kind === 'exact') addUnique(h.sni, p.name);
      return;
    case 'tls.alpn':
      addUnique(h.protocols, 'tls');
      for (const n of c.names) addUnique(h.alpn, n);
      return;
    case 'tls.version':
    case 'tls.ech':
      addUnique(h.protocols, 'tls');
      return;
    case 'http.method':
      addUnique(h.protocols, 'http');
      return;
    case 'http.host':
      addUnique(h.protocols, 'http');
      for (const p of c.patterns) if (p.kind === 'exact') addUnique(h.hosts, p.name);
      return;
    case 'silent':
      addUnique(h.protocols, 'silent');
      return;
    case 'all':
    case 'any':
      for (const i of c.inner) hintsOf(i, h);
      return;
    default:
      return;
  }
}

/**
 * The payloads to probe a backend with, best first: one per protocol of the routes that lead to
 * it (in route order; `silent:` routes mean a server-speaks-first service: no data); TLS then
 * HTTP for a backend reached only by `default` or by conditions that name no protocol.
 */
export function planPayloads(rules: RulesConfig, backend: string): PayloadPlan[] {
  const server = firstPrimary(rules.backends.get(backend));
  const plans: PayloadPlan[] = [];
  const routes = rules.routes.filter((r) => leadsTo(r, backend));
  const seen = new Set<PayloadKind>();
  for (const r of routes) {
    const h: Hints = { protocols: [], sni: [], alpn: [], hosts: [] };
    if (r.action.kind === 'sni-forward') {
      // The fallback of an sni_forward route takes TLS hellos without (valid) SNI.
      h.protocols.push('tls');
    } else {
      hintsOf(r.when, h);
    }
    for (const p of h.protocols) {
      const kind: PayloadKind = p === 'silent' ? 'none' : p;
      if (seen.has(kind)) continue;
      seen.add(kind);
      const why = `route "${r.name}"`;
      if (kind === 'tls') {
        plans.push({ kind, ...(h.sni[0] !== undefined ? { sni: h.sni[0] } : {}), ...(h.alpn.length > 0 ? { alpn: h.alpn } : {}), why });
      } else if (kind === 'http') {
        plans.push({ kind, host: h.hosts[0] ?? server?.host ?? 'localhost', why });
      } else {
        plans.push({ kind, why });
      }
    }
  }
  if (plans.length === 0) {
    const how =
      routes.length > 0
        ? `routes ${routes.map((r) => `"${r.name}"`).join(', ')} name no protocol`
        : rules.defaultBackend === backend
          ? 'reached only as the default backend'
          : 'no route leads to it';
    plans.push({ kind: 'tls', why: `${how}: TLS first` });
    plans.push({ kind: 'http', host: server?.host ?? 'localhost', why: `${how}: HTTP after TLS` });
  }
  return plans.slice(0, 4);
}

/** Whether connections taken by route `r` can reach `backend`: its backend, or the fallback of an sni_forward. */
function leadsTo(r: RouteConfig, backend: string): boolean {
  switch (r.action.kind) {
    case 'backend':
      return r.action.backend === backend;
    case 'sni-forward':
      return r.action.forward.fallback === backend;
    default:
      return false;
  }
}

function firstPrimary(b: BackendConfig | undefined): ServerConfig | undefined {
  return b?.servers.find((s) => !s.backup) ?? b?.servers[0];
}

// ---------------------------------------------------------------------------------------------
// Judging (pure)

export type Outcome = 'normal' | 'failed' | 'unclear';

const PROTO_NAME: Record<PayloadKind, string> = { tls: 'TLS', http: 'HTTP', ssh: 'SSH', none: 'server-speaks-first' };

/** Whether one probe's answer is a normal answer to what it sent. */
export function outcomeOf(r: ProbeResult): Outcome {
  const a = r.answer;
  if (a.kind === 'refused' || a.kind === 'other') return 'unclear';
  if (a.kind === 'closed' || a.kind === 'reset') return 'failed';
  switch (r.sent) {
    case 'tls':
      if (a.kind === 'timeout') return 'failed';
      if (a.kind === 'tls') return a.tlsRecord === 'handshake' ? 'normal' : 'failed';
      // nginx answers bytes that are not TLS on an `ssl` listener with a plain-HTTP 400.
      if (a.kind === 'http' && a.status === 400) return 'failed';
      return 'unclear';
    case 'http':
      if (a.kind === 'timeout') return 'failed';
      if (a.kind === 'http') return a.status === 400 ? 'failed' : 'normal';
      return 'unclear';
    case 'ssh':
      if (a.kind === 'timeout') return 'failed';
      if (a.kind === 'ssh') return a.after === 'more' ? 'normal' : a.after === 'silent' || a.after === undefined ? 'unclear' : 'failed';
      return 'unclear';
    case 'none':
      // Nothing (or only a header) was sent: silence is what any server that waits for its client does.
      if (a.kind === 'timeout') return 'unclear';
      if (a.kind === 'ssh' || a.kind === 'banner') {
        if (a.after === 'complaint' || a.after === 'closed' || a.after === 'reset') return 'failed';
        return 'normal';
      }
      return 'unclear';
  }
}

function headerPhrase(h: SendProxy): string {
  return h === 'off' ? 'without a header' : `with a PROXY ${h} header`;
}

function answerPhrase(r: ProbeResult): string {
  return `${headerPhrase(r.header)}: ${r.answer.summary}`;
}

export interface Judgement {
  readonly verdict: Verdict;
  readonly explanation: string;
  readonly hint: string;
  readonly suggested?: SendProxy;
}

/**
 * The verdict from the probes: `configured` as configured, `opposite` the probes with the opposite
 * header (for off: v2, then v1 if made), `otherVersion` the other PROXY version (configured v1/v2,
 * made only when both A and B failed). `sent` describes the payload for messages.
 */
export function judge(sendProxy: SendProxy, configured: ProbeResult, opposite: readonly ProbeResult[], otherVersion?: ProbeResult): Judgement {
  const adapted = [configured, ...opposite, ...(otherVersion ? [otherVersion] : [])].find((r) => r.adapted !== undefined)?.adapted;
  const sent = configured.sentDescription + (adapted !== undefined ? ` (${adapted})` : '');
  const proto = PROTO_NAME[configured.sent];
  if (configured.answer.kind === 'refused') {
    return { verdict: 'down', explanation: configured.answer.summary, hint: 'start the server, or fix the address in the backend\'s servers' };
  }
  const oA = outcomeOf(configured);
  const oB = opposite.map(outcomeOf);
  const normalB = opposite.find((_, i) => oB[i] === 'normal');
  const seen = [configured, ...opposite, ...(otherVersion ? [otherVersion] : [])].map(answerPhrase).join('; ');

  if (oA === 'normal' && oB.length > 0 && oB.every((o) => o === 'failed')) {
    return sendProxy === 'off'
      ? { verdict: 'ok', explanation: `does not expect a header, as configured (send_proxy off): ${sent} ${seen}`, hint: 'nothing to do' }
      : { verdict: 'ok', explanation: `expects the PROXY header as configured (send_proxy ${sendProxy}): ${sent} ${seen}`, hint: 'nothing to do' };
  }
  if (oA === 'failed' && normalB !== undefined) {
    if (sendProxy === 'off') {
      const v = normalB.header;
      return {
        verdict: 'mismatch',
        explanation: `send_proxy off, but the server expects a PROXY header: ${sent} ${seen}`,
        hint: `server expects a PROXY header (it answered with it): set send_proxy: ${v === 'v2' ? 'v2 (or v1)' : v}`,
        suggested: v,
      };
    }
    return {
      verdict: 'mismatch',
      explanation: `send_proxy ${sendProxy}, but the server does not expect a PROXY header: ${sent} ${seen}`,
      hint: 'server answers without a PROXY header: set send_proxy: off',
      suggested: 'off',
    };
  }
  if (oA === 'failed' && otherVersion !== undefined && outcomeOf(otherVersion) === 'normal') {
    const v = otherVersion.header;
    return {
      verdict: 'mismatch',
      explanation: `send_proxy ${sendProxy}, but the server expects a PROXY ${v} header: ${sent} ${seen}`,
      hint: `server expects PROXY ${v}, not ${sendProxy}: set send_proxy: ${v}`,
      suggested: v,
    };
  }
  if (oA === 'normal' && normalB !== undefined) {
    return {
      verdict: 'unknown',
      explanation: `the server answered normally both with and without a PROXY header: ${sent} ${seen}`,
      hint:
        sendProxy === 'off'
          ? 'it may read a PROXY header optionally or not at all: check its configuration if it should see client addresses'
          : 'it may accept the header optionally, or treat it as data: check that it reports the client address portplex sends',
    };
  }
  if (oA === 'failed' && oB.every((o) => o === 'failed')) {
    return {
      verdict: 'unknown',
      explanation: `no normal ${proto} answer with or without a PROXY header: ${sent} ${seen}`,
      hint: `check that the server speaks ${proto} on this port (the probe was chosen from the routes to this backend)`,
    };
  }
  return {
    verdict: 'unknown',
    explanation: `the answers are not clearly ${proto}: ${sent} ${seen}`,
    hint: `probe it by hand (openssl s_client, curl, ssh -v) ${sendProxy === 'off' ? 'without and with' : 'with and without'} a PROXY header`,
  };
}

// ---------------------------------------------------------------------------------------------
// Running the probes

function formatServer(s: ServerConfig): string {
  return s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

function serverNoteOf(b: BackendConfig, probed: ServerConfig | undefined): string | undefined {
  const primaries = b.servers.filter((s) => !s.backup).length;
  const backups = b.servers.length - primaries;
  if (probed === undefined || b.servers.length <= 1) return undefined;
  const rest: string[] = [];
  if (primaries > 1) rest.push(`${primaries - 1} other primar${primaries - 1 === 1 ? 'y' : 'ies'}`);
  if (backups > 0) rest.push(`${backups} backup${backups === 1 ? '' : 's'}`);
  return `probed the first primary server; ${rest.join(' and ')} not probed`;
}

async function makePayload(plan: PayloadPlan, timeoutMs: number): Promise<{ ok: true; payload: Payload } | { ok: false; error: string }> {
  switch (plan.kind) {
    case 'tls': {
      const h = await buildClientHello({ servername: plan.sni, alpn: plan.alpn, timeoutMs });
      return h.ok ? { ok: true, payload: { kind: 'tls', hello: h.hello, sni: plan.sni, alpn: plan.alpn ?? [] } } : { ok: false, error: h.error };
    }
    case 'http':
      return { ok: true, payload: { kind: 'http', host: plan.host ?? 'localhost' } };
    case 'ssh':
      return { ok: true, payload: { kind: 'ssh' } };
    case 'none':
      return { ok: true, payload: { kind: 'none' } };
  }
}

interface Attempt {
  readonly plan: PayloadPlan;
  readonly judgement: Judgement;
  readonly probes: ProbeResult[];
}

async function attempt(b: BackendConfig, server: ServerConfig, plan: PayloadPlan, opts: DoctorOptions): Promise<Attempt> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const probes: ProbeResult[] = [];
  const made = await makePayload(plan, timeoutMs);
  if (!made.ok) {
    return { plan, probes, judgement: { verdict: 'unknown', explanation: `could not build ${describePayload(plan.kind)}: ${made.error}`, hint: 'report this as a portplex bug' } };
  }
  const run = async (header: SendProxy): Promise<ProbeResult> => {
    const r = await probe({
      host: server.host,
      port: server.port,
      connectTimeoutMs: Math.min(b.connectTimeoutMs, timeoutMs),
      readTimeoutMs: timeoutMs,
      ...(opts.bannerWaitMs !== undefined ? { bannerWaitMs: opts.bannerWaitMs } : {}),
      header,
      proxyV2: b.proxyV2,
      payload: made.payload,
    });
    probes.push(r);
    return r;
  };
  const a = await run(b.sendProxy);
  if (a.answer.kind === 'refused') return { plan, probes, judgement: judge(b.sendProxy, a, []) };
  const opposite: ProbeResult[] = [];
  let other: ProbeResult | undefined;
  if (b.sendProxy === 'off') {
    const v2 = await run('v2');
    opposite.push(v2);
    if (outcomeOf(v2) !== 'normal') opposite.push(await run('v1'));
  } else {
    const off = await run('off');
    opposite.push(off);
    if (outcomeOf(a) === 'failed' && outcomeOf(off) !== 'normal') other = await run(b.sendProxy === 'v1' ? 'v2' : 'v1');
  }
  return { plan, probes, judgement: judge(b.sendProxy, a, opposite, other) };
}

/** Probes one backend's first primary server. Never rejects. */
export async function diagnoseBackend(rules: RulesConfig, name: string, opts: DoctorOptions = {}): Promise<BackendDiagnosis> {
  const b = rules.backends.get(name);
  const server = firstPrimary(b);
  if (b === undefined || server === undefined) {
    return {
      backend: name,
      server: '-',
      serverNote: undefined,
      sendProxy: b?.sendProxy ?? 'off',
      verdict: 'unknown',
      explanation: 'the backend has no server',
      hint: 'add a server to it',
      payload: undefined,
      payloadWhy: undefined,
      probes: [],
    };
  }
  const base = { backend: name, server: formatServer(server), serverNote: serverNoteOf(b, server), sendProxy: b.sendProxy };
  if (b.transport === 'udp') {
    // A UDP server answers only what it understands, and silence proves nothing: there is no
    // handshake to probe the way a TCP connect and a PROXY header are probed.
    return {
      ...base,
      verdict: 'unknown',
      explanation: 'a UDP backend: the doctor probes TCP backends only (a UDP server need not answer a probe, so silence proves nothing)',
      hint: 'check it with a real client of its protocol through portplex (e.g. curl --http3, dig, wg show)',
      payload: undefined,
      payloadWhy: undefined,
      probes: [],
    };
  }
  const attempts: Attempt[] = [];
  try {
    for (const plan of planPayloads(rules, name)) {
      const at = await attempt(b, server, plan, opts);
      attempts.push(at);
      if (at.judgement.verdict !== 'unknown') break;
    }
  } catch (e) {
    // Not expected (probes never throw), but a doctor must not crash on one backend.
    return { ...base, verdict: 'unknown', explanation: `internal error: ${(e as Error).message}`, hint: 'report this as a portplex bug', payload: undefined, payloadWhy: undefined, probes: attempts.flatMap((a) => a.probes) };
  }
  const decisive = attempts.find((a) => a.judgement.verdict !== 'unknown') ?? attempts[0]!;
  let explanation = decisive.judgement.explanation;
  if (decisive.judgement.verdict === 'unknown' && attempts.length > 1) {
    explanation += attempts
      .slice(1)
      .map((a) => `; also tried ${describePayload(a.plan.kind)} (${a.judgement.explanation})`)
      .join('');
  }
  return {
    ...base,
    verdict: decisive.judgement.verdict,
    explanation,
    hint: decisive.judgement.hint,
    ...(decisive.judgement.suggested !== undefined ? { suggested: decisive.judgement.suggested } : {}),
    payload: decisive.plan.kind,
    payloadWhy: decisive.plan.why,
    probes: attempts.flatMap((a) => a.probes),
  };
}

/** Probes every backend (a few at a time); results in the order of the rule file. Never rejects. */
export async function runDoctor(rules: RulesConfig, opts: DoctorOptions = {}): Promise<BackendDiagnosis[]> {
  const names = [...rules.backends.keys()];
  const out: BackendDiagnosis[] = new Array<BackendDiagnosis>(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const i = next++;
      out[i] = await diagnoseBackend(rules, names[i]!, opts);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 8, names.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/** `<backend> <server> <verdict>: <explanation>; hint: <what to do>` */
export function formatDiagnosis(d: BackendDiagnosis): string {
  const note = d.serverNote !== undefined ? ` (${d.serverNote})` : '';
  return `${d.backend} ${d.server} ${d.verdict}: ${d.explanation}${note}; hint: ${d.hint}`;
}

/** 0 when every backend is ok or unknown, 1 when any is mismatch or down. */
export function doctorExitCode(ds: readonly BackendDiagnosis[]): 0 | 1 {
  return ds.some((d) => d.verdict === 'mismatch' || d.verdict === 'down') ? 1 : 0;
}

export function doctorSummary(ds: readonly BackendDiagnosis[]): string {
  const count = (v: Verdict): number => ds.filter((d) => d.verdict === v).length;
  return `${ds.length} backend(s): ${count('ok')} ok, ${count('mismatch')} mismatch, ${count('down')} down, ${count('unknown')} unknown`;
}
