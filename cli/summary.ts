/**
 * What `hopper dev` tells its user once the stack runs: a banner for people, one JSON object for
 * scripts (`--json`).
 */
import { ENV } from '../lib/config/env.js';
import type { LocalRuntime } from '../local/runtime.js';
import { TARGET_ENV } from './commands/options.js';

/** The machine-readable summary `hopper dev --json` prints on one line. */
export interface DevSummary {
  readonly stack: string;
  readonly startupMs: number;
  /** The Hopper API's URL, when the stack has one (output `*ApiUrl`, else its only function URL). */
  readonly apiUrl: string | undefined;
  /** The dashboard `hopper dev` serves on 127.0.0.1, when the stack has an API for it. */
  readonly dashboardUrl: string | undefined;
  readonly endpoints: LocalRuntime['endpoints'];
  /** Queue → URL: Hopper queue names when the stack has a JobSystem, else logical ids. */
  readonly queues: Readonly<Record<string, string>>;
  /** Table logical id → table name. */
  readonly tables: Readonly<Record<string, string>>;
  /** Function logical id → function URL, for functions that have one. */
  readonly functionUrls: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  /**
   * What a process needs to use the running stack, by name: the AWS SDKs' and CLI's endpoints,
   * region and credentials for the emulators, and, when the stack has a JobSystem, the variables
   * `new Client()` reads (`HOPPER_QUEUE_URLS`, `HOPPER_STATE_TABLE`) and the one the admin
   * commands read (`HOPPER_API_URL`).
   */
  readonly env: Readonly<Record<string, string>>;
  readonly pid: number;
}

function outputEndingWith(outputs: Readonly<Record<string, string>>, suffix: string): string | undefined {
  const key = Object.keys(outputs).find((name) => name.endsWith(suffix));
  return key === undefined ? undefined : outputs[key];
}

/** Hopper queue name → URL from a JobSystem's `*QueueUrls` output, if the stack has one. */
export function jobQueueUrls(outputs: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const raw = outputEndingWith(outputs, 'QueueUrls');
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const urls: Record<string, string> = {};
    for (const [name, url] of Object.entries(parsed)) if (typeof url === 'string') urls[name] = url;
    return urls;
  } catch {
    return undefined;
  }
}

/** The URL of a JobSystem's API, from its `*ApiUrl` output, if the stack has one. */
export function jobSystemApiUrl(outputs: Readonly<Record<string, string>>): string | undefined {
  return outputEndingWith(outputs, 'ApiUrl');
}

/**
 * The environment of a process that uses `local`: {@link DevSummary.env}. A script that runs it
 * with exactly these variables (and PATH) can enqueue with `new Client()` and run `hopper stats`.
 */
export function devEnv(local: Pick<LocalRuntime, 'env' | 'outputs'>): Record<string, string> {
  const env: Record<string, string> = { ...local.env };
  const queueUrls = outputEndingWith(local.outputs, 'QueueUrls');
  const stateTable = outputEndingWith(local.outputs, 'StateTableName');
  const apiUrl = jobSystemApiUrl(local.outputs);
  if (queueUrls !== undefined) env[ENV.queueUrls] = queueUrls;
  if (stateTable !== undefined) env[ENV.stateTable] = stateTable;
  if (apiUrl !== undefined) env[TARGET_ENV.url] = apiUrl;
  return env;
}

/** `NAME='value'` for a POSIX shell (a JSON value keeps its double quotes). */
export function shellAssignment(name: string, value: string): string {
  return `${name}='${value.replaceAll("'", "'\\''")}'`;
}

/** Builds the summary of a running stack, with the URL of the dashboard serving it, if any. */
export function devSummary(local: LocalRuntime, dashboardUrl?: string): DevSummary {
  const functionUrls: Record<string, string> = {};
  for (const fn of local.functions) if (fn.url !== undefined) functionUrls[fn.logicalId] = fn.url;
  const urls = Object.values(functionUrls);
  const jobQueues = jobQueueUrls(local.outputs);
  const queues: Record<string, string> = { ...jobQueues };
  for (const queue of local.queues) if (!Object.values(queues).includes(queue.url)) queues[queue.logicalId] = queue.url;
  return {
    stack: local.stackName,
    startupMs: local.startupMs,
    apiUrl: jobSystemApiUrl(local.outputs) ?? (urls.length === 1 ? urls[0] : undefined),
    dashboardUrl,
    endpoints: local.endpoints,
    queues,
    tables: Object.fromEntries(local.tables.map((table) => [table.logicalId, table.name])),
    functionUrls,
    outputs: local.outputs,
    env: devEnv(local),
    pid: process.pid,
  };
}

/** The banner `hopper dev` prints for people. */
export function banner(summary: DevSummary, local: LocalRuntime): string {
  const lines: string[] = [];
  const pad = (label: string) => `  ${label.padEnd(14)}`;
  lines.push('', `  Hopper dev · stack ${summary.stack} · ready in ${(summary.startupMs / 1000).toFixed(1)} s`, '');
  if (summary.apiUrl !== undefined) lines.push(`${pad('API')}${summary.apiUrl}`);
  if (summary.dashboardUrl !== undefined) lines.push(`${pad('Dashboard')}${summary.dashboardUrl}`);
  const queueNames = Object.keys(summary.queues);
  if (queueNames.length > 0) {
    lines.push(`${pad('Queues')}`);
    const width = Math.max(...queueNames.map((name) => name.length));
    for (const [name, url] of Object.entries(summary.queues)) lines.push(`    ${name.padEnd(width)}  ${url}`);
  }
  if (Object.keys(summary.tables).length > 0) lines.push(`${pad('Tables')}${Object.values(summary.tables).join(', ')}`);
  for (const [logicalId, url] of Object.entries(summary.functionUrls)) lines.push(`${pad('Function URL')}${url}  (${logicalId})`);
  const mappings = local.mappings();
  const functions = local.functions.map((fn) => {
    const count = mappings.filter((mapping) => mapping.functionLogicalId === fn.logicalId).length;
    return count > 0 ? `${fn.logicalId} (${count} mapping${count === 1 ? '' : 's'})` : fn.logicalId;
  });
  if (functions.length > 0) lines.push(`${pad('Functions')}${functions.join(', ')}`);
  for (const schedule of local.schedules()) {
    lines.push(`${pad('Schedule')}${schedule.name}  ${schedule.expression} ${schedule.timeZone}${schedule.enabled ? '' : ' (disabled)'}`);
  }
  lines.push(`${pad('Emulators')}SQS ${summary.endpoints.sqs} · DynamoDB ${summary.endpoints.dynamodb} · Lambda API ${summary.endpoints.lambda}`);
  lines.push('', '  In another shell, these point new Client(), hopper <command> and AWS SDKs at it:');
  for (const [name, value] of Object.entries(summary.env)) lines.push(`    export ${shellAssignment(name, value)}`);
  lines.push('', '  Ctrl-C stops everything.', '');
  return lines.join('\n');
}
