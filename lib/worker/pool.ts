/**
 * Runs a batch's records with bounded concurrency and a deadline. Records that have not started
 * when the deadline approaches are not started; records still running at the hard stop are given
 * up on (their outcome is ignored). Either way the caller hands them back to SQS, which redelivers
 * them, instead of letting Lambda's timeout fail the whole batch, successes included.
 */

const MAX_TIMER_MS = 2_147_483_647;

/** How a pool run ended for each item. */
export interface PoolResult<R> {
  /** Outcomes of the items that finished, by index. */
  readonly results: ReadonlyMap<number, R>;
  /** Indexes of the items never started, or started but unfinished at the hard stop. */
  readonly handedBack: readonly number[];
  /** True when the hard stop was reached. */
  readonly stopped: boolean;
}

export interface PoolOptions {
  /** Most items running at once (≥ 1). */
  readonly concurrency: number;
  /** Asked before each start; false stops starting new items. */
  readonly canStart: () => boolean;
  /** Milliseconds after which running items are given up on (not finite: never). */
  readonly hardStopMs: number;
  /** Called at the hard stop (aborts the handlers' signal). */
  readonly onHardStop?: () => void;
}

/**
 * Runs `run` over `items`. `run` should not reject; if it does, the item is handed back as if it
 * had not finished, so a defect in one record's path never fails its neighbours.
 */
export async function runPool<T, R>(items: readonly T[], options: PoolOptions, run: (item: T, index: number) => Promise<R>): Promise<PoolResult<R>> {
  const results = new Map<number, R>();
  const failed = new Set<number>();
  let next = 0;
  let closed = false;

  const lane = async (): Promise<void> => {
    while (!closed && next < items.length && options.canStart()) {
      const index = next;
      next += 1;
      const item = items[index];
      if (item === undefined) continue;
      try {
        const result = await run(item, index);
        if (!closed) results.set(index, result);
      } catch {
        failed.add(index);
      }
    }
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const hardStop = new Promise<'stop'>((resolve) => {
    // Node fires a timer over 2^31 − 1 ms at once; a deadline that far (or unknown) is no deadline.
    if (Number.isFinite(options.hardStopMs) && options.hardStopMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => resolve('stop'), Math.max(0, options.hardStopMs));
    }
  });
  const lanes = Array.from({ length: Math.min(options.concurrency, items.length) }, lane);
  const ending = await Promise.race([Promise.all(lanes).then(() => 'done' as const), hardStop]);
  clearTimeout(timer);
  closed = true;
  if (ending === 'stop') options.onHardStop?.();

  const handedBack: number[] = [];
  for (let index = 0; index < items.length; index += 1) {
    if (!results.has(index) || failed.has(index)) handedBack.push(index);
  }
  return { results: new Map(results), handedBack, stopped: ending === 'stop' };
}
