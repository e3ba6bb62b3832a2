/** The `portplex explain` command's inputs and output, around explain.ts. */
import { readFileSync } from 'node:fs';
import type { RulesConfig } from '../../config/types.js';
import { buildClientHello } from '../client-hello.js';
import { Facts } from '../../inspect/facts.js';
import type { MatchContext } from '../../protocols/match-context.js';
import { parseClientHello, tlsVersionName } from '../../protocols/tls/client-hello.js';
import { explain, type Explanation } from './explain.js';

export interface ExplainOptions {
  readonly sni?: string;
  readonly alpn?: string;
  readonly tlsVersion?: string;
  readonly hex?: string;
  readonly capture?: string;
  readonly src: string;
  readonly localPort: string;
  readonly after: string;
  readonly more?: boolean;
  readonly json?: boolean;
}

/** The client bytes to explain, or a message saying what is wrong with the options. */
export async function explainBytes(o: ExplainOptions): Promise<Buffer | string> {
  const sources = [o.hex !== undefined, o.capture !== undefined, o.sni !== undefined || o.alpn !== undefined || o.tlsVersion !== undefined].filter(Boolean).length;
  if (sources > 1) return 'use one of --hex, --capture, or --sni/--alpn/--tls-version';
  if (o.hex !== undefined) {
    const compact = o.hex.replace(/[\s:]/g, '');
    return /^([0-9a-fA-F]{2})*$/.test(compact) ? Buffer.from(compact, 'hex') : `--hex: "${o.hex}" is not hex bytes`;
  }
  if (o.capture !== undefined) {
    try {
      return readFileSync(o.capture);
    } catch (e) {
      return `--capture: ${(e as Error).message}`;
    }
  }
  if (o.sni === undefined && o.alpn === undefined && o.tlsVersion === undefined) return Buffer.alloc(0);
  if (o.tlsVersion !== undefined && o.tlsVersion !== '1.2' && o.tlsVersion !== '1.3') return '--tls-version must be 1.2 or 1.3';
  const r = await buildClientHello({
    servername: o.sni,
    alpn: o.alpn?.split(',').map((a) => a.trim()).filter((a) => a !== ''),
    ...(o.tlsVersion === '1.2' ? { maxVersion: 'TLSv1.2' as const } : {}),
  });
  return r.ok ? r.hello : `cannot build a ClientHello: ${r.error}`;
}

export function explainConnection(rules: RulesConfig, bytes: Buffer, o: ExplainOptions): Explanation {
  const facts = new Facts(rules.inspect.maxBytes);
  const elapsedMs = Number(o.after) || 0;
  const silentKnown = bytes.length === 0 && elapsedMs >= Math.min(...rules.routes.flatMap(silentOf), Infinity);
  const final = o.more !== true || silentKnown || bytes.length >= rules.inspect.maxBytes;
  facts.update(bytes, final);
  const ctx: MatchContext = {
    bytes,
    final,
    elapsedMs,
    srcAddress: o.src,
    srcPort: 40000,
    localAddress: '0.0.0.0',
    localPort: Number(o.localPort) || 443,
    facts,
  };
  return explain(rules, ctx);
}

function silentOf(r: RulesConfig['routes'][number]): number[] {
  const out: number[] = [];
  const walk = (c: RulesConfig['routes'][number]['when']): void => {
    if (c.kind === 'silent') out.push(c.ms);
    else if (c.kind === 'not') walk(c.inner);
    else if (c.kind === 'all' || c.kind === 'any') c.inner.forEach(walk);
  };
  walk(r.when);
  return out;
}

export function formatExplanation(e: Explanation, bytes: Buffer): string {
  const lines: string[] = [];
  const hello = parseClientHello(bytes);
  const what =
    bytes.length === 0
      ? 'nothing (a silent client)'
      : hello.kind === 'ok'
        ? `${bytes.length} bytes: a TLS ClientHello, SNI ${hello.value.sni ?? 'none'}, ALPN ${hello.value.alpn.join(',') || 'none'}, version ${tlsVersionName(hello.value.version)}`
        : `${bytes.length} bytes, starting ${bytes.subarray(0, 16).toString('hex')}`;
  lines.push(`client sent: ${what}`);
  const width = Math.max(5, ...e.routes.map((r) => r.route.length));
  e.routes.forEach((r, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${r.route.padEnd(width)}  ${r.verdict}`);
    for (const reason of r.reasons) lines.push(`      ${reason}`);
  });
  if (e.waiting) lines.push('decision: none yet — a route needs more bytes (run without --more to see the answer once the client stops)');
  else if (e.decision === undefined) lines.push('decision: no route matched and there is no default: the connection is closed (no-route)');
  else lines.push(`decision: ${e.decision === 'default' ? 'no route matched: default' : `route ${e.decision}`} -> backend ${e.backend}`);
  return lines.join('\n');
}
