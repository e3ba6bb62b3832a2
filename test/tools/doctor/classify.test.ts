/**
 * `portplex doctor`, the pure parts: classifying what a server sent (classifyAnswer), whether an
 * answer is normal for what was sent (outcomeOf), the verdict from the probes (judge), and the
 * payloads chosen from the routes (planPayloads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAnswer, describePayload, type Answer, type Observation, type PayloadKind, type ProbeEnd, type ProbeResult } from '../../../src/tools/doctor/probe.js';
import { judge, outcomeOf, planPayloads, doctorExitCode, formatDiagnosis, type BackendDiagnosis } from '../../../src/tools/doctor/diagnose.js';
import { compileRulesText } from '../../../src/config/load.js';
import type { SendProxy } from '../../../src/config/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const NONE = Buffer.alloc(0);

function obs(reply: Uint8Array, end: ProbeEnd, serverFirst: Uint8Array = NONE, extra: Partial<Observation> = {}): Observation {
  return { serverFirst, reply, end, ...extra };
}

const SERVER_HELLO = h('16 03 03 00 7a 02 00 00 76 03 03') ;
const ALERT_DECODE_ERROR = h('15 03 03 00 02 02 32');
const OPENSSH = b('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
// uint32 packet length, padding length, SSH_MSG_KEXINIT (20), then the cookie...
const KEXINIT = h('00 00 04 bc 07 14 01 02 03 04 05 06 07 08');

test('connect failures are "refused", whatever else was seen', () => {
  const a = classifyAnswer(obs(NONE, 'open', NONE, { connectError: 'ECONNREFUSED' }));
  assert.equal(a.kind, 'refused');
  assert.equal(a.final, true);
  assert.match(a.summary, /ECONNREFUSED/);
});

test('no bytes: closed (FIN), reset, timeout; still open is not final', () => {
  assert.equal(classifyAnswer(obs(NONE, 'fin')).kind, 'closed');
  assert.equal(classifyAnswer(obs(NONE, 'reset')).kind, 'reset');
  const t = classifyAnswer(obs(NONE, 'timeout', NONE, { waitedMs: 2000 }));
  assert.equal(t.kind, 'timeout');
  assert.equal(t.summary, 'no answer within 2000 ms');
  const open = classifyAnswer(obs(NONE, 'open'));
  assert.equal(open.final, false);
});

test('TLS: a handshake record is final at once; an alert is named once its 7 bytes are in', () => {
  const hs = classifyAnswer(obs(SERVER_HELLO, 'open'));
  assert.equal(hs.kind, 'tls');
  assert.equal(hs.tlsRecord, 'handshake');
  assert.equal(hs.final, true);
  assert.equal(hs.summary, 'a TLS handshake (ServerHello)');

  const al = classifyAnswer(obs(ALERT_DECODE_ERROR, 'fin'));
  assert.equal(al.kind, 'tls');
  assert.equal(al.tlsRecord, 'alert');
  assert.deepEqual(al.tlsAlert, { level: 2, description: 50, name: 'decode_error' });
  assert.equal(al.summary, 'a TLS fatal alert (decode_error), then closed');

  const partial = classifyAnswer(obs(ALERT_DECODE_ERROR.subarray(0, 4), 'open'));
  assert.equal(partial.final, false);
  assert.equal(classifyAnswer(obs(h('16'), 'open')).final, false, 'one byte 0x16 is not yet TLS');
  assert.equal(classifyAnswer(obs(h('16'), 'fin')).kind, 'other');
  assert.equal(classifyAnswer(obs(h('16 01 00'), 'open')).kind, 'other', '0x16 not followed by 0x03');
});

test('HTTP: status code and line; partial status lines wait; nginx\'s 400 is an ordinary HTTP answer here', () => {
  const a = classifyAnswer(obs(b('HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n<html>'), 'fin'));
  assert.equal(a.kind, 'http');
  assert.equal(a.status, 400);
  assert.equal(a.statusLine, 'HTTP/1.1 400 Bad Request');
  assert.equal(a.summary, 'HTTP 400 Bad Request');
  assert.equal(classifyAnswer(obs(b('HTTP/1.0 200 OK\n'), 'open')).status, 200);
  assert.equal(classifyAnswer(obs(b('HTT'), 'open')).final, false);
  assert.equal(classifyAnswer(obs(b('HTTP/1.1 20'), 'open')).final, false);
  assert.equal(classifyAnswer(obs(b('HTTP/1.1 204'), 'fin')).status, 204, 'a status line cut by FIN still counts');
  assert.equal(classifyAnswer(obs(b('HTTP/1.1 200 OK\r\n'), 'open')).final, true);
});

test('SSH: banner first, then the key exchange, a complaint, a close, or silence', () => {
  const kex = classifyAnswer(obs(KEXINIT, 'open', OPENSSH));
  assert.equal(kex.kind, 'ssh');
  assert.equal(kex.banner, 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
  assert.equal(kex.spokeFirst, true);
  assert.equal(kex.after, 'more');
  assert.equal(kex.final, true);
  assert.match(kex.summary, /^an SSH banner "SSH-2\.0-OpenSSH_9\.2p1 Debian-2\+deb12u3" first, then the key exchange$/);

  const bad = classifyAnswer(obs(b('Invalid SSH identification string.\r\n'), 'open', OPENSSH));
  assert.equal(bad.after, 'complaint');
  assert.equal(bad.complaint, 'Invalid SSH identification string.');
  assert.equal(bad.final, true);
  assert.equal(classifyAnswer(obs(b('Protocol mismatch.\n'), 'fin', OPENSSH)).after, 'complaint');
  assert.equal(classifyAnswer(obs(b('Invalid SSH ident'), 'open', OPENSSH)).final, false, 'wait for the end of the line');

  assert.equal(classifyAnswer(obs(NONE, 'fin', OPENSSH)).after, 'closed');
  assert.equal(classifyAnswer(obs(NONE, 'reset', OPENSSH)).after, 'reset');
  assert.equal(classifyAnswer(obs(NONE, 'timeout', OPENSSH)).after, 'silent');
  const waiting = classifyAnswer(obs(NONE, 'open', OPENSSH));
  assert.equal(waiting.after, undefined);
  assert.equal(waiting.final, false);
});

test('other banners (SMTP, FTP, POP3): complaints are recognized, harmless lines are not', () => {
  const smtp = b('220 mail.example ESMTP Postfix\r\n');
  const c = classifyAnswer(obs(b('502 5.5.2 Error: command not recognized\r\n'), 'open', smtp));
  assert.equal(c.kind, 'banner');
  assert.equal(c.banner, '220 mail.example ESMTP Postfix');
  assert.equal(c.after, 'complaint');
  assert.equal(classifyAnswer(obs(b('-ERR unknown command\r\n'), 'open', b('+OK POP3 ready\r\n'))).after, 'complaint');
  assert.equal(classifyAnswer(obs(b('a1 BAD invalid command\r\n'), 'open', b('* OK IMAP4rev1\r\n'))).after, 'complaint');
  assert.equal(classifyAnswer(obs(NONE, 'timeout', smtp)).after, 'silent');
  // A continuation of a multi-line greeting is not a complaint; wait for more while open, 'more' once ended.
  const cont = classifyAnswer(obs(b('220-second line\r\n'), 'open', smtp));
  assert.equal(cont.final, false);
  assert.equal(classifyAnswer(obs(b('220-second line\r\n'), 'timeout', smtp)).after, 'more');
  const binary = classifyAnswer(obs(NONE, 'timeout', h('4a 00 00 00 0a 38 2e 30')));
  assert.equal(binary.kind, 'banner');
  assert.match(binary.summary, /binary greeting/);
});

test('text that came only after our bytes: a late banner, or an error line', () => {
  const late = classifyAnswer(obs(b('220 mail.example ESMTP\r\n'), 'timeout'));
  assert.equal(late.kind, 'banner');
  assert.equal(late.spokeFirst, false);
  assert.equal(late.after, 'silent');
  const err = classifyAnswer(obs(b('demo backend: bad PROXY header: x\r\n'), 'fin'));
  assert.equal(err.kind, 'banner');
  assert.equal(err.after, 'complaint');
  const ssh = classifyAnswer(obs(Buffer.concat([OPENSSH, KEXINIT]), 'open'));
  assert.equal(ssh.kind, 'ssh');
  assert.equal(ssh.after, 'more');
});

test('binary bytes are "other", described in hex; byte counts include the banner', () => {
  const a = classifyAnswer(obs(h('00 01 02 03 04 05 06 07 08 09'), 'fin'));
  assert.equal(a.kind, 'other');
  assert.equal(a.final, true);
  assert.equal(a.summary, '10 unrecognized bytes (00 01 02 03 04 05 06 07), then closed');
  assert.equal(classifyAnswer(obs(KEXINIT, 'open', OPENSSH)).bytes, OPENSSH.length + KEXINIT.length);
});

test('the classifier never throws and settles every ended observation, whatever the bytes', () => {
  let seed = 12345;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const prefixes = [NONE, b('HTTP/'), b('SSH-2.0-x\r\n'), h('16 03'), h('15 03 03'), b('220 ')];
  for (let i = 0; i < 3000; i++) {
    const len = rnd(40);
    const bytes = Buffer.concat([prefixes[rnd(prefixes.length)]!, Buffer.from(Array.from({ length: len }, () => rnd(256)))]);
    const first = rnd(3) === 0 ? b('SSH-2.0-y\r\n') : NONE;
    for (const end of ['fin', 'reset', 'timeout', 'cap', 'open'] as const) {
      const a = classifyAnswer(obs(bytes, end, first));
      if (end !== 'open') assert.equal(a.final, true, `${end} ${bytes.toString('hex')}`);
      assert.equal(typeof a.summary, 'string');
    }
  }
});

// ---------------------------------------------------------------------------------------------
// outcomeOf and judge

function pr(header: SendProxy, sent: PayloadKind, answer: Answer): ProbeResult {
  return { server: '127.0.0.1:1', header, headerBytes: header === 'off' ? 0 : 28, planned: sent, sent, sentDescription: describePayload(sent), answer, ms: 1 };
}
const A = {
  handshake: classifyAnswer(obs(SERVER_HELLO, 'open')),
  alert: classifyAnswer(obs(ALERT_DECODE_ERROR, 'fin')),
  closed: classifyAnswer(obs(NONE, 'fin')),
  reset: classifyAnswer(obs(NONE, 'reset')),
  timeout: classifyAnswer(obs(NONE, 'timeout')),
  refused: classifyAnswer(obs(NONE, 'open', NONE, { connectError: 'ECONNREFUSED' })),
  http200: classifyAnswer(obs(b('HTTP/1.1 200 OK\r\n'), 'open')),
  http404: classifyAnswer(obs(b('HTTP/1.1 404 Not Found\r\n'), 'open')),
  http400: classifyAnswer(obs(b('HTTP/1.1 400 Bad Request\r\n'), 'open')),
  sshKex: classifyAnswer(obs(KEXINIT, 'open', OPENSSH)),
  sshInvalid: classifyAnswer(obs(b('Invalid SSH identification string.\r\n'), 'open', OPENSSH)),
  smtpSilent: classifyAnswer(obs(NONE, 'timeout', b('220 mail ESMTP\r\n'))),
  smtpComplaint: classifyAnswer(obs(b('500 5.5.2 Error: bad syntax\r\n'), 'open', b('220 mail ESMTP\r\n'))),
  other: classifyAnswer(obs(h('00 01 02'), 'fin')),
};

test('outcomeOf: normal only in the protocol that was sent', () => {
  assert.equal(outcomeOf(pr('off', 'tls', A.handshake)), 'normal');
  assert.equal(outcomeOf(pr('off', 'tls', A.alert)), 'failed');
  assert.equal(outcomeOf(pr('off', 'tls', A.closed)), 'failed');
  assert.equal(outcomeOf(pr('off', 'tls', A.timeout)), 'failed');
  assert.equal(outcomeOf(pr('v2', 'tls', A.http400)), 'failed', 'nginx: a PROXY header before the hello on an ssl listener gets a plain-HTTP 400');
  assert.equal(outcomeOf(pr('off', 'tls', A.http200)), 'unclear');
  assert.equal(outcomeOf(pr('off', 'http', A.http200)), 'normal');
  assert.equal(outcomeOf(pr('off', 'http', A.http404)), 'normal');
  assert.equal(outcomeOf(pr('off', 'http', A.http400)), 'failed');
  assert.equal(outcomeOf(pr('off', 'http', A.handshake)), 'unclear');
  assert.equal(outcomeOf(pr('off', 'ssh', A.sshKex)), 'normal');
  assert.equal(outcomeOf(pr('v2', 'ssh', A.sshInvalid)), 'failed');
  assert.equal(outcomeOf(pr('off', 'none', A.smtpSilent)), 'normal');
  assert.equal(outcomeOf(pr('v1', 'none', A.smtpComplaint)), 'failed');
  assert.equal(outcomeOf(pr('off', 'none', A.timeout)), 'unclear', 'a silent client meeting a silent server proves nothing');
  assert.equal(outcomeOf(pr('off', 'tls', A.other)), 'unclear');
  assert.equal(outcomeOf(pr('off', 'tls', A.refused)), 'unclear');
});

test('judge: ok both ways', () => {
  const v2 = judge('v2', pr('v2', 'tls', A.handshake), [pr('off', 'tls', A.closed)]);
  assert.equal(v2.verdict, 'ok');
  assert.match(v2.explanation, /^expects the PROXY header as configured \(send_proxy v2\)/);
  const off = judge('off', pr('off', 'http', A.http200), [pr('v2', 'http', A.http400), pr('v1', 'http', A.http400)]);
  assert.equal(off.verdict, 'ok');
  assert.match(off.explanation, /^does not expect a header, as configured \(send_proxy off\)/);
});

test('judge: mismatch, with the send_proxy value the server wants', () => {
  const noHeader = judge('v2', pr('v2', 'tls', A.closed), [pr('off', 'tls', A.handshake)]);
  assert.equal(noHeader.verdict, 'mismatch');
  assert.equal(noHeader.suggested, 'off');
  assert.equal(noHeader.hint, 'server answers without a PROXY header: set send_proxy: off');

  const wantsV2 = judge('off', pr('off', 'http', A.http400), [pr('v2', 'http', A.http200)]);
  assert.equal(wantsV2.verdict, 'mismatch');
  assert.equal(wantsV2.suggested, 'v2');
  assert.equal(wantsV2.hint, 'server expects a PROXY header (it answered with it): set send_proxy: v2 (or v1)');

  const wantsV1 = judge('off', pr('off', 'http', A.closed), [pr('v2', 'http', A.http400), pr('v1', 'http', A.http200)]);
  assert.equal(wantsV1.suggested, 'v1');
  assert.match(wantsV1.hint, /set send_proxy: v1$/);

  const sshd = judge('v2', pr('v2', 'ssh', A.sshInvalid), [pr('off', 'ssh', A.sshKex)]);
  assert.equal(sshd.verdict, 'mismatch');
  assert.match(sshd.explanation, /Invalid SSH identification string/);

  const otherVersion = judge('v1', pr('v1', 'tls', A.closed), [pr('off', 'tls', A.closed)], pr('v2', 'tls', A.handshake));
  assert.equal(otherVersion.verdict, 'mismatch');
  assert.equal(otherVersion.suggested, 'v2');
  assert.equal(otherVersion.hint, 'server expects PROXY v2, not v1: set send_proxy: v2');
});

test('judge: down when the configured probe cannot connect', () => {
  const d = judge('v2', pr('v2', 'tls', A.refused), []);
  assert.equal(d.verdict, 'down');
  assert.match(d.explanation, /ECONNREFUSED/);
});

test('judge: unknown when both answer, both fail, or an answer is unclear, and it says what was seen', () => {
  const both = judge('v2', pr('v2', 'http', A.http200), [pr('off', 'http', A.http200)]);
  assert.equal(both.verdict, 'unknown');
  assert.match(both.explanation, /both with and without/);
  const neither = judge('v2', pr('v2', 'tls', A.closed), [pr('off', 'tls', A.reset)]);
  assert.equal(neither.verdict, 'unknown');
  assert.match(neither.explanation, /no normal TLS answer.*closed the connection.*reset the connection/);
  const unclear = judge('off', pr('off', 'tls', A.other), [pr('v2', 'tls', A.closed), pr('v1', 'tls', A.closed)]);
  assert.equal(unclear.verdict, 'unknown');
  assert.match(unclear.explanation, /not clearly TLS.*unrecognized bytes/);
  // A silent client: the server's silence without a header proves nothing.
  const silent = judge('v2', pr('v2', 'none', A.smtpSilent), [pr('off', 'none', A.timeout)]);
  assert.equal(silent.verdict, 'unknown');
});

// ---------------------------------------------------------------------------------------------
// planPayloads, formatting, exit code

function rules(yaml: string) {
  const r = compileRulesText(yaml, 'test.yaml');
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('\n'));
  return r.rules;
}

test('planPayloads: from the routes that lead to the backend; TLS then HTTP for default-only backends', () => {
  const r = rules(`listeners: ["127.0.0.1:0"]
backends:
  web: { servers: ["127.0.0.1:1"] }
  api: { servers: ["api.internal:2"] }
  ssh: { servers: ["127.0.0.1:3"] }
  mail: { servers: ["127.0.0.1:4"] }
  fallback: { servers: ["127.0.0.1:5"] }
  acme: { servers: ["127.0.0.1:6"] }
routes:
  - { name: sites, when: { tls: { sni: ["*.example.com", "www.example.com"] } }, to: web }
  - { name: api, when: { http: { host: [api.example.com] } }, to: api }
  - { name: api2, when: { protocol: tls }, to: api }
  - { name: ssh, when: { protocol: ssh }, to: ssh }
  - { name: smtp, when: { silent: 1s }, to: mail }
  - { name: acme, when: { tls: { alpn: [acme-tls/1] } }, to: acme }
  - { name: lan, when: { src: ["10.0.0.0/8"] }, to: fallback }
default: fallback
`);
  assert.deepEqual(planPayloads(r, 'web'), [{ kind: 'tls', sni: 'www.example.com', why: 'route "sites"' }]);
  assert.deepEqual(planPayloads(r, 'api'), [
    { kind: 'http', host: 'api.example.com', why: 'route "api"' },
    { kind: 'tls', why: 'route "api2"' },
  ]);
  assert.deepEqual(planPayloads(r, 'ssh'), [{ kind: 'ssh', why: 'route "ssh"' }]);
  assert.deepEqual(planPayloads(r, 'mail'), [{ kind: 'none', why: 'route "smtp"' }]);
  assert.deepEqual(planPayloads(r, 'acme'), [{ kind: 'tls', alpn: ['acme-tls/1'], why: 'route "acme"' }]);
  const fb = planPayloads(r, 'fallback');
  assert.deepEqual(
    fb.map((p) => p.kind),
    ['tls', 'http'],
  );
  assert.match(fb[0]!.why, /name no protocol: TLS first/);
  assert.equal(fb[1]!.host, '127.0.0.1');
});

test('planPayloads: a `not:` says nothing about the protocol; default-only backends say so', () => {
  const r = rules(`listeners: ["127.0.0.1:0"]
backends:
  a: { servers: ["127.0.0.1:1"] }
  b: { servers: ["127.0.0.1:2"] }
routes:
  - { name: not-tls, when: { not: { protocol: tls } }, to: a }
default: b
`);
  assert.deepEqual(planPayloads(r, 'a').map((p) => p.kind), ['tls', 'http']);
  assert.match(planPayloads(r, 'b')[0]!.why, /^reached only as the default backend/);
});

test('one line per backend, and the exit code', () => {
  const d = (verdict: BackendDiagnosis['verdict']): BackendDiagnosis => ({
    backend: 'web',
    server: '127.0.0.1:4443',
    serverNote: undefined,
    sendProxy: 'v2',
    verdict,
    explanation: 'why',
    hint: 'what',
    payload: 'tls',
    payloadWhy: 'route',
    probes: [],
  });
  assert.equal(formatDiagnosis(d('mismatch')), 'web 127.0.0.1:4443 mismatch: why; hint: what');
  assert.equal(formatDiagnosis({ ...d('ok'), serverNote: 'probed the first primary server; 1 backup not probed' }), 'web 127.0.0.1:4443 ok: why (probed the first primary server; 1 backup not probed); hint: what');
  assert.equal(doctorExitCode([d('ok'), d('unknown')]), 0);
  assert.equal(doctorExitCode([d('ok'), d('mismatch')]), 1);
  assert.equal(doctorExitCode([d('down')]), 1);
  assert.equal(doctorExitCode([]), 0);
});
