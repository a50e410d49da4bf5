/** A pausable switch that loops can wait on (mapping Enabled, stop). */
export class Gate {
  private open: boolean;
  private waiters: (() => void)[] = [];

  constructor(open: boolean) {
    this.open = open;
  }

  /** Whether the gate is open. */
  get isOpen(): boolean {
    return this.open;
  }

  /** Opens or closes the gate; opening wakes every waiter. */
  set(open: boolean): void {
    this.open = open;
    if (open) this.wake();
  }

  /** Wakes every waiter without changing the state (used on stop). */
  wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves when the gate is open or someone calls {@link wake}. */
  async wait(): Promise<void> {
    if (this.open) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
