/**
 * What every admin command shares: where its output goes, how it fails, and how it calls the API.
 * A command writes tables or `--json` to stdout and progress to stderr; any failure becomes one
 * `error: <message>` line on stderr and a non-zero exit code.
 */
import type { ApiClientResponse } from '../../lib/api-client/index.js';
import { isRecord } from '../../lib/job/model.js';

/** Where a command writes, and what it knows about its terminal. */
export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stderr is a terminal: progress redraws one line instead of printing many. */
  readonly stderrIsTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes of the admin commands. */
export const EXIT = {
  ok: 0,
  /** The API refused or failed the request, or the target could not be reached. */
  failed: 1,
  /** The command line is wrong. */
  usage: 2,
} as const;

/** A failure to report as `error: <message>`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A wrong command line: named option or argument, what it must be. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

/** The part of `ApiClient` the commands use. */
export interface ApiCaller {
  request(method: string, path: string, body?: unknown): Promise<ApiClientResponse>;
}

/**
 * Calls the API and returns the body of a 2xx answer.
 *
 * @throws CliError with the API's own message for an error answer.
 */
export async function call(api: ApiCaller, method: string, path: string, body?: unknown): Promise<unknown> {
  let response: ApiClientResponse;
  try {
    response = await api.request(method, path, body);
  } catch (error) {
    throw new CliError(`cannot reach the API (${method} ${path}): ${error instanceof Error ? error.message : String(error)}`);
  }
  if (response.status >= 200 && response.status < 300) return response.body;
  const problem = isRecord(response.body) && isRecord(response.body.error) ? response.body.error : undefined;
  const message = typeof problem?.message === 'string' ? problem.message : `the API answered ${response.status} to ${method} ${path}`;
  throw new CliError(message);
}

/** Writes `value` as one JSON document (for `--json`). */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** Field `name` of a JSON object answer, or undefined. */
export function fieldOf(body: unknown, name: string): unknown {
  return isRecord(body) ? body[name] : undefined;
}

/** The objects of array field `name` of an answer. */
export function listOf(body: unknown, name: string): Readonly<Record<string, unknown>>[] {
  const value = fieldOf(body, name);
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** A value as a table cell: empty for null, JSON for structures. */
export function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
