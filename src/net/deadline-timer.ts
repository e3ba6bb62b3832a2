/**
 * The one timer a transport driver keeps for its inspection session: armed at the session's next
 * deadline (performance.now() clock), moved only when a deadline comes sooner. A later deadline
 * is left to the timer's firing: the driver ticks the session then, and re-arms at what it says.
 */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  /** When `timer` fires (it may be later than the session's deadline: it is re-armed lazily). */
  private at = Infinity;

  constructor(
    private readonly onDue: () => void,
    /** Do not keep the process alive for it (a UDP flow's: the flow table's sweep ends idle flows). */
    private readonly unref = false,
  ) {}

  wakeAt(deadline: number): void {
    if (deadline >= this.at) return;
    clearTimeout(this.timer);
    this.at = deadline;
    this.timer = deadline === Infinity ? undefined : setTimeout(this.fire, Math.max(1, Math.ceil(deadline - performance.now())));
    if (this.unref) this.timer?.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.at = Infinity;
    this.onDue();
  };
}
