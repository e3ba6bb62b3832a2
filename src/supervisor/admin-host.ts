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
    let next: RunningAdmin | undefined;
    if (admin !== undefined && this.running !== undefined && admin.listen.port !== 0 && admin.listen.port === this.running.address.port) {
      // Another spelling of the same port ("localhost:9900" after "127.0.0.1:9900", a wildcard
      // after one address): the new bind would collide with the running endpoint, so that one
      // closes first, and comes back where it was if the new address cannot be bound.
      const old = this.running;
      await old.close();
      this.running = undefined;
      try {
        next = await startAdminServer(admin.listen, this.source, this.log, adminAccess(admin));
      } catch (e) {
        this.running = await startAdminServer({ host: old.address.address, port: old.address.port }, this.source, this.log, adminAccess(admin)).catch(() => undefined);
        if (this.running === undefined) this.address = undefined;
        throw e;
      }
    } else {
      next = admin === undefined ? undefined : await startAdminServer(admin.listen, this.source, this.log, adminAccess(admin));
      await this.running?.close();
    }
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
      // The new token and allowed_hosts hold even so: a reload that rotates a leaked token must
      // not leave it working because the endpoint could not move at the same time.
      if (admin !== undefined) this.running?.setAccess(adminAccess(admin));
      this.log.error({ err: (e as Error).message }, 'admin endpoint not moved: the running one stays, with the new access settings');
    }
  }

  async close(): Promise<void> {
    await this.running?.close();
    this.running = undefined;
    this.address = undefined;
  }
}
