/**
 * Runs an operation again after a transient failure: for the few one-off requests whose failure
 * costs more than a wait (a deploy's configuration write, a function instance's configuration read),
 * on top of the AWS SDK's own retries.
 */

/** How {@link withAttempts} tries. */
export interface AttemptOptions {
  /** Tries in all. */
  readonly attempts: number;
  /** Wait before the second try, in milliseconds; doubled before each further one. */
  readonly firstDelayMs: number;
  /** Errors not worth trying again (a bad configuration): thrown at once. */
  readonly isFinal?: (error: unknown) => boolean;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * `operation`'s result, trying up to `attempts` times.
 *
 * @throws the last error, or the first final one.
 */
export async function withAttempts<T>(operation: () => Promise<T>, options: AttemptOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => { setTimeout(resolve, ms); }));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= options.attempts || options.isFinal?.(error) === true) throw error;
      await sleep(options.firstDelayMs * 2 ** (attempt - 1));
    }
  }
}
