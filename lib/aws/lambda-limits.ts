/**
 * Lambda's fixed limits that Hopper's templates and the local runtime must respect, and how Lambda
 * measures them. One place for both: a synth-time check and the local runtime's refusal count the
 * same way.
 *
 * Sources: the Lambda quotas page ("Function environment variables: 4 KB, for all environment
 * variables associated with the function, in aggregate"; concurrent executions 1,000 by default)
 * and the Invoke API reference ("For synchronous invocations, the maximum payload size is 6 MB.
 * For asynchronous invocations, the maximum payload size is 1 MB." — 256 KB until October 2025).
 * Lambda's MB is 1,024 KB.
 */

/** The limits, in bytes or concurrent executions. */
export const LAMBDA_LIMITS = {
  /** Total size of a function's environment variables: the UTF-8 bytes of every key and value. */
  environmentBytes: 4 * 1024,
  /** Request payload of a synchronous invocation (RequestResponse, a function URL request). */
  syncRequestBytes: 6 * 1024 * 1024,
  /**
   * Response payload of an invocation. Lambda's own error names 6,291,556 bytes (6 MB and 100
   * bytes) as the maximum: `Response payload size (N bytes) exceeded maximum allowed payload size
   * (6291556 bytes).`
   */
  responseBytes: 6 * 1024 * 1024 + 100,
  /** Request payload of an asynchronous invocation (InvocationType Event). */
  asyncRequestBytes: 1024 * 1024,
  /** Concurrent executions of an account in a Region, by default. */
  accountConcurrency: 1000,
  /** Concurrency that reservations must leave unreserved (or the whole limit, when it is lower). */
  minimumUnreservedConcurrency: 100,
} as const;

/** One environment variable's share of the limit. */
export interface EnvironmentEntry {
  readonly name: string;
  readonly bytes: number;
}

/** How Lambda counts a function's environment: the sum of the UTF-8 bytes of every key and value. */
export function environmentBytes(variables: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const [name, value] of Object.entries(variables)) total += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
  return total;
}

/** The variables with their sizes (key and value), largest first, ties by name. */
export function largestVariables(variables: Readonly<Record<string, string>>): EnvironmentEntry[] {
  return Object.entries(variables)
    .map(([name, value]) => ({ name, bytes: Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8') }))
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
}

/**
 * Why Lambda would refuse this environment, naming the total and the largest variables (at most
 * `top`), or undefined when it fits.
 *
 * @example
 * environmentProblem({ BIG: 'x'.repeat(5000) });
 * // 'its environment variables come to 5,003 bytes (keys and values, UTF-8), over Lambda's limit of 4,096 bytes; the largest: BIG (5,003 bytes)'
 */
export function environmentProblem(variables: Readonly<Record<string, string>>, top = 3): string | undefined {
  return environmentSizeProblem(largestVariables(variables), top);
}

/**
 * {@link environmentProblem} of variables given by their sizes (key and value, in bytes): for
 * values not known yet, such as a template's references counted at their longest.
 */
export function environmentSizeProblem(entries: readonly EnvironmentEntry[], top = 3): string | undefined {
  const total = entries.reduce((sum, entry) => sum + entry.bytes, 0);
  if (total <= LAMBDA_LIMITS.environmentBytes) return undefined;
  const largest = [...entries]
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name))
    .slice(0, top)
    .map((entry) => `${entry.name} (${formatBytes(entry.bytes)})`)
    .join(', ');
  return `its environment variables come to ${formatBytes(total)} (keys and values, UTF-8), over Lambda's limit of ${formatBytes(LAMBDA_LIMITS.environmentBytes)}; the largest: ${largest}`;
}

function formatBytes(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} ${bytes === 1 ? 'byte' : 'bytes'}`;
}
