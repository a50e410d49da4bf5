/**
 * `hopper tail`: the job events of a JobSystem's functions as they happen, from CloudWatch Logs —
 * a deployed stack's (`--stack`: the log groups of its functions, nested stacks included) or a local
 * one's (`hopper dev` serves the same reads, `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` in the variables it
 * prints). Each line is shown as `hopper dev` shows it (`[function] SendEmail 4f6c2a… done 12 ms`),
 * or as printed with `--json`. It polls `FilterLogEvents` every `--interval` seconds.
 */
import { formatFunctionLine, LOG_FORMATS } from '../../lib/observability/console-format.js';
import type { Command } from './command.js';
import { CliError, usageError, type CliIO } from './io.js';
import { intOption, parseCommand, TARGET_ENV } from './options.js';

/** One event of a log group. */
export interface TailEvent {
  readonly timestamp: number;
  readonly message: string;
  readonly eventId: string;
}

/** What `hopper tail` reads: the log groups, and a page of one group's events. */
export interface LogsReader {
  groups(): Promise<readonly string[]>;
  events(group: string, startTime: number, nextToken?: string): Promise<{ readonly events: readonly TailEvent[]; readonly nextToken?: string }>;
  close(): void;
}

/** Where the reader reads: a deployed stack, or the local runtime's endpoint. */
export type TailTarget = { readonly stack: string; readonly region: string } | { readonly endpoint: string };

/** Makes the reader for a target (tests pass a fake). */
export type LogsReaderFactory = (target: TailTarget) => Promise<LogsReader>;

const LAMBDA_GROUP = '/aws/lambda/';

/** The function a log group belongs to, for the line's prefix. */
function functionOf(group: string): string {
  return group.startsWith(LAMBDA_GROUP) ? group.slice(LAMBDA_GROUP.length) : group;
}

/** CloudWatch Logs through the SDK (loaded only here). */
export const cloudWatchLogs: LogsReaderFactory = async (target) => {
  const { CloudWatchLogsClient, DescribeLogGroupsCommand, FilterLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const client = 'endpoint' in target
    ? new CloudWatchLogsClient({ endpoint: target.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'hopperlocal', secretAccessKey: 'hopperlocal' } })
    : new CloudWatchLogsClient({ region: target.region });
  const stackGroups = 'stack' in target ? stackLogGroups(target.stack, target.region) : undefined;
  return {
    async groups() {
      if (stackGroups !== undefined) return stackGroups;
      const output = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: LAMBDA_GROUP }));
      return (output.logGroups ?? []).flatMap((group) => (group.logGroupName === undefined ? [] : [group.logGroupName]));
    },
    async events(group, startTime, nextToken) {
      try {
        const output = await client.send(new FilterLogEventsCommand({ logGroupName: group, startTime, ...(nextToken === undefined ? {} : { nextToken }) }));
        const events = (output.events ?? []).flatMap((event) => (event.timestamp === undefined || event.message === undefined || event.eventId === undefined ? [] : [{ timestamp: event.timestamp, message: event.message, eventId: event.eventId }]));
        return { events, ...(output.nextToken === undefined ? {} : { nextToken: output.nextToken }) };
      } catch (error) {
        // A function that has not run yet has no log group.
        if (error instanceof Error && error.name === 'ResourceNotFoundException') return { events: [] };
        throw error;
      }
    },
    close: () => client.destroy(),
  };
};

/**
 * The log groups of `stack`'s functions, nested stacks included: each `AWS::Logs::LogGroup` of the
 * stack (Hopper's functions have their own), and `/aws/lambda/<name>` of each function.
 */
async function stackLogGroups(stack: string, region: string): Promise<string[]> {
  const { CloudFormationClient, paginateListStackResources } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient({ region });
  const groups = new Set<string>();
  try {
    const visit = async (name: string): Promise<void> => {
      for await (const page of paginateListStackResources({ client }, { StackName: name })) {
        for (const resource of page.StackResourceSummaries ?? []) {
          const id = resource.PhysicalResourceId;
          if (id === undefined) continue;
          if (resource.ResourceType === 'AWS::Logs::LogGroup') groups.add(id);
          if (resource.ResourceType === 'AWS::Lambda::Function') groups.add(`${LAMBDA_GROUP}${id}`);
          if (resource.ResourceType === 'AWS::CloudFormation::Stack') await visit(id);
        }
      }
    };
    await visit(stack);
  } catch (error) {
    throw new CliError(`cannot list the functions of stack ${stack} in ${region}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    client.destroy();
  }
  return [...groups].sort();
}

/** Where `hopper tail` reads, from its options and the environment. @throws CliError (usage) when there is nothing to read. */
export function tailTarget(values: { readonly stack?: string | undefined; readonly region?: string | undefined }, io: CliIO): TailTarget {
  const stack = values.stack ?? io.env[TARGET_ENV.stack];
  if (stack !== undefined && stack !== '') return { stack, region: values.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? 'us-east-1' };
  const endpoint = io.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ?? io.env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined && endpoint !== '') return { endpoint };
  throw usageError('hopper tail reads CloudWatch Logs: pass --stack <name> for a deployed stack, or run it with the variables hopper dev prints (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS) for a local one');
}

/** The line `hopper tail` prints for `message` of `group`, or undefined to hide it (EMF metrics, with the readable format). */
export function tailLine(group: string, message: string, json: boolean): string | undefined {
  const text = message.replace(/\n$/, '');
  if (json) return `[${functionOf(group)}] ${text}`;
  const line = formatFunctionLine(text, 'info', { format: LOG_FORMATS.readable, metrics: false });
  return line === undefined ? undefined : `[${functionOf(group)}] ${line.text}`;
}

/** Builds the command over `readers`. */
export function tailCommand(readers: LogsReaderFactory = cloudWatchLogs): Command {
  return {
    name: 'tail',
    summary: 'job events as they happen, from CloudWatch Logs (a deployed stack\'s, or hopper dev\'s)',
    usage: `Usage: hopper tail [--since 1m] [--interval 2] [--once] [--json]

Reads the log groups of the stack's functions (--stack, nested stacks included) or of hopper dev's
(AWS_ENDPOINT_URL_CLOUDWATCH_LOGS from the variables it prints). On AWS a worker logs a job's success
at DEBUG: set HOPPER_LOG_LEVEL=DEBUG on it to see "done" lines; failures, retries, deaths, expiries
and limiter reschedules are logged at INFO and above.

Options:
  --since <duration>   start this far back: seconds or 90s, 15m, 3h, 2d (default 1m)
  --interval <s>       seconds between two reads, 1 to 3600 (default 2)
  --once               print what there is since --since, then exit
  --json               each line as the function printed it (one JSON object per line)
`,
    async run(args, ctx) {
      const { values, positionals } = parseCommand(args, { since: { type: 'string' }, interval: { type: 'string' }, once: { type: 'boolean' } });
      if (positionals.length > 0) throw usageError(`tail takes no arguments, but ${JSON.stringify(positionals[0])} was provided`);
      const intervalSeconds = intOption(values.interval, 'interval', 1, 3600) ?? 2;
      let sinceSeconds = 60;
      if (values.since !== undefined) {
        const { parseDuration } = await import('../../lib/client/client.js');
        try {
          sinceSeconds = parseDuration(values.since, 'since');
        } catch (error) {
          throw usageError(error instanceof Error ? error.message : String(error));
        }
      }
      const reader = await readers(tailTarget(values, ctx.io));
      // Per group: where the next read starts, and the events already printed at that millisecond.
      const cursors = new Map<string, { startTime: number; printed: Set<string> }>();
      const from = ctx.now() - sinceSeconds * 1000;
      try {
        for (;;) {
          const lines: { timestamp: number; eventId: string; text: string }[] = [];
          for (const group of await reader.groups()) {
            const cursor = cursors.get(group) ?? { startTime: from, printed: new Set<string>() };
            cursors.set(group, cursor);
            let nextToken: string | undefined;
            const read: TailEvent[] = [];
            do {
              const page = await reader.events(group, cursor.startTime, nextToken);
              read.push(...page.events);
              nextToken = page.nextToken;
            } while (nextToken !== undefined);
            const fresh = read.filter((event) => !cursor.printed.has(event.eventId));
            for (const event of fresh) {
              const text = tailLine(group, event.message, values.json === true);
              if (text !== undefined) lines.push({ timestamp: event.timestamp, eventId: event.eventId, text });
            }
            const latest = Math.max(cursor.startTime, ...read.map((event) => event.timestamp));
            if (latest > cursor.startTime) cursor.printed.clear();
            cursor.startTime = latest;
            for (const event of read) if (event.timestamp === latest) cursor.printed.add(event.eventId);
          }
          lines.sort((a, b) => a.timestamp - b.timestamp || a.eventId.localeCompare(b.eventId));
          for (const line of lines) ctx.io.stdout(`${line.text}\n`);
          if (values.once === true) return;
          await new Promise((resolve) => { setTimeout(resolve, intervalSeconds * 1000); });
        }
      } finally {
        reader.close();
      }
    },
  };
}
