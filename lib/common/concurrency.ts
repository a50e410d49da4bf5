/**
 * Bounded parallelism for I/O fan-out (DynamoDB writes per entry): enough requests in flight to
 * hide latency, few enough not to throttle the table or exhaust sockets.
 */

/**
 * Runs `run` over `items` with at most `limit` calls in flight and returns the settled results in
 * input order. A call that rejects does not stop the others.
 */
export async function mapSettled<T, R>(items: readonly T[], limit: number, run: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index];
      if (item === undefined) continue;
      try {
        results[index] = { status: 'fulfilled', value: await run(item, index) };
      } catch (error) {
        results[index] = { status: 'rejected', reason: error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}
