/**
 * What a TCP connection learns on its way to the close line and the metrics record: the route,
 * the backend and server, the tunnel target, the connect failures, the timings, and once spliced
 * only the summary of its first bytes (a TCP driver fills it and writes it once).
 */
import { isLocalHeader } from '../inspect/inbound-proxy.js';
import type { InspectionSession } from '../inspect/session.js';
import { summarizeClient } from '../observe/close-captures.js';
import type { ClientFields, Endpoint, TcpCloseReason, TcpCloseRecord } from '../observe/close-line.js';
import type { ConnectionRecord } from '../observe/connection-record.js';

/** Bytes read from and written to the client, however the transport counts them. */
export interface ByteCounts {
  readonly fromClient: number;
  readonly toClient: number;
}

export class CloseNotes {
  decideMs: number | undefined;
  connectMs: number | undefined;
  routeName: string | undefined;
  backendName: string | undefined;
  serverAddress: string | undefined;
  uniqueId: Buffer | undefined;
  failures: readonly string[] | undefined;
  tunnelTarget: string | undefined;
  /** Once spliced: how many bytes were peeked, and the client facts the close line reports. */
  private peekedLength: number | undefined;
  private clientSummary: ClientFields | undefined;
  /** Once settled: what the close line needs of the session, which is then let go. */
  private settled: { readonly client: Endpoint; readonly proxyHeader: TcpCloseRecord['proxyHeader'] } | undefined;
  private session: InspectionSession | undefined;

  constructor(
    private readonly id: string,
    private readonly listener: string,
    private readonly peer: Endpoint,
    session: InspectionSession,
  ) {
    this.session = session;
  }

  /**
   * A spliced connection may live for hours: keep only what its close line needs, and let the
   * peeked bytes and the parsed hello or request go (a third of a held connection's memory).
   * The client facts are summarised only if a close line can be written at all (`summarise`).
   */
  settle(summarise: boolean): void {
    const session = this.session;
    if (session === undefined) return;
    this.peekedLength = session.peekedLength;
    this.clientSummary = summarise ? summarizeClient(session.facts) : NO_FIELDS;
    this.settled = { client: { address: session.srcAddress, port: session.srcPort }, proxyHeader: proxyHeaderOf(session) };
    session.release();
    // The session (facts, peek buffer, parsers) is not needed any more: a held connection keeps
    // only this record (about a third of its JavaScript memory).
    this.session = undefined;
  }

  get peeked(): number {
    return this.peekedLength ?? this.session?.peekedLength ?? 0;
  }

  /** The metrics' record of the closed connection. */
  record(reason: TcpCloseReason, bytes: ByteCounts): ConnectionRecord {
    return {
      listener: this.listener,
      route: this.routeName,
      backend: this.backendName,
      server: this.serverAddress,
      reason,
      bytesFromClient: bytes.fromClient,
      bytesToClient: bytes.toClient,
      decideMs: this.decideMs,
      peeked: this.peeked,
    };
  }

  /** The close line's record; `totalMs` since the accept. */
  line(reason: TcpCloseReason, detail: string | undefined, bytes: ByteCounts, totalMs: number): TcpCloseRecord {
    const session = this.session;
    const settled = this.settled;
    return {
      transport: 'tcp',
      id: this.id,
      listener: this.listener,
      client: settled?.client ?? { address: session!.srcAddress, port: session!.srcPort },
      peer: this.peer,
      proxyHeader: settled !== undefined ? settled.proxyHeader : proxyHeaderOf(session!),
      route: this.routeName,
      backend: this.backendName,
      server: this.serverAddress,
      target: this.tunnelTarget,
      clientFields: () => this.clientSummary ?? (session === undefined ? NO_FIELDS : summarizeClient(session.facts)),
      uniqueId: this.uniqueId,
      peeked: this.peeked,
      bytes,
      ms: { decide: this.decideMs, total: totalMs },
      connectMs: this.connectMs,
      reason,
      detail,
      failures: this.failures,
    };
  }
}

const NO_FIELDS: ClientFields = Object.freeze({}) as ClientFields;

function proxyHeaderOf(session: InspectionSession): TcpCloseRecord['proxyHeader'] {
  const inbound = session.inbound;
  return inbound === undefined ? undefined : inbound.version === 1 ? 'v1' : isLocalHeader(inbound) ? 'v2-local' : 'v2';
}
