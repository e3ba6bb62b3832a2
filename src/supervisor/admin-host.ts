/**
 * Keeps the admin endpoint in step with the rules: started when `admin:` is present, moved when
 * its address changes on a reload, closed when it is removed; a reload that keeps the address
 * passes on new allowed_hosts and a new token at once. At start a bind failure is fatal (a
 * platform's probes would fail anyway); on a reload it is logged and the old endpoint stays.
 */
import { adminAccess } from '../admin/gate.js';
import { startAdminServer, type AdminSource, type RunningAdmin } from '../admin/server.js';
import type { AdminConfig } from '../config/types.js';
import { formatHostPort } from '../config/units.js';
import type { Logger } from '../observe/logger.js';

export class AdminHost {
  private running: RunningAdmin | undefined;
  private address: string | undefined;

  constructor(
    private readonly source: AdminSource,
    private readonly log: Logger,
  ) {}

  get port(): number | undefined {
    return this.running?.address.port;
  }

  /** Starts, moves or stops the endpoint for these settings; rejects when a new address cannot be bound. */
  async apply(admin: AdminConfig | undefined): Promise<void> {
    const wanted = admin === undefined ? undefined : formatHostPort(admin.listen);
    if (wanted === this.address) {
      if (admin !== undefined) this.running?.setAccess(adminAccess(admin));
      return;
    }
    const next = admin === undefined ? undefined : await startAdminServer(admin.listen, this.source, this.log, adminAccess(admin));
    await this.running?.close();
    this.running = next;
    this.address = wanted;
    if (next !== undefined) {
      const url = `http://${formatHostPort({ host: next.address.address, port: next.address.port })}/`;
      this.log.info({ admin: url }, 'admin endpoint: status page, /metrics, /healthz, /readyz');
    }
  }

  /** On a reload: like apply, but a failure is logged and the running endpoint stays. */
  async reapply(admin: AdminConfig | undefined): Promise<void> {
    try {
      await this.apply(admin);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'admin endpoint not moved: the running one stays');
    }
  }

  async close(): Promise<void> {
    await this.running?.close();
    this.running = undefined;
    this.address = undefined;
  }
}
