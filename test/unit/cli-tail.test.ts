/**
 * `hopper tail` over a fake CloudWatch Logs, and the local runtime's answers to CloudWatch Logs'
 * reads (the log store and the JSON protocol it is served with).
 */
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../cli/commands/command.js';
import { tailCommand, tailTarget, type LogsReader, type TailEvent, type TailTarget } from '../../cli/commands/tail.js';
import { answerLogs } from '../../local/http/logs-api.js';
import { LogStore } from '../../local/log-store.js';

const DONE = '{"level":"DEBUG","message":"job done","jid":"9966451bfa2e","jobtype":"SendEmail","queue":"default","duration_ms":12}';
const EMF = '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"Processed":1}';

/** A reader over `pages`: each call of `events` for a group answers the next page of its list. */
function fakeReader(groups: Record<string, TailEvent[][]>): { reader: LogsReader; starts: number[] } {
  const starts: number[] = [];
  const calls = new Map<string, number>();
  return {
    starts,
    reader: {
      groups: async () => Object.keys(groups),
      events: async (group, startTime) => {
        starts.push(startTime);
        const index = calls.get(group) ?? 0;
        calls.set(group, index + 1);
        const events = (groups[group]?.[Math.min(index, (groups[group]?.length ?? 1) - 1)] ?? []).filter((event) => event.timestamp >= startTime);
        return { events };
      },
      close: () => undefined,
    },
  };
}

async function run(args: string[], reader: LogsReader, env: Record<string, string> = { AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://127.0.0.1:1' }): Promise<{ out: string; targets: TailTarget[] }> {
  const out: string[] = [];
  const targets: TailTarget[] = [];
  const ctx: CommandContext = { io: { stdout: (text) => out.push(text), stderr: () => undefined, stderrIsTTY: false, env }, connect: async () => { throw new Error('tail needs no API'); }, now: () => 1_000_000 };
  await tailCommand(async (target) => { targets.push(target); return reader; }).run(args, ctx);
  return { out: out.join(''), targets };
}

describe('hopper tail', () => {
  it('prints each function\'s events as the console shows them, oldest first, without metric lines', async () => {
    const { reader, starts } = fakeReader({
      '/aws/lambda/Shop-Worker': [[{ timestamp: 999_000, message: DONE, eventId: '2' }, { timestamp: 999_001, message: EMF, eventId: '3' }]],
      '/aws/lambda/Shop-Retry': [[{ timestamp: 998_000, message: '{"level":"INFO","message":"job failed; retrying","jid":"5c190e000000","jobtype":"SendEmail","retry_count":0,"retry_in_s":13,"error":{"errtype":"Error","message":"refused"}}', eventId: '1' }]],
    });
    const { out, targets } = await run(['--once', '--since', '5m'], reader);

    expect(targets).toEqual([{ endpoint: 'http://127.0.0.1:1' }]);
    expect(starts).toEqual([1_000_000 - 300_000, 1_000_000 - 300_000]);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[Shop-Retry\] /);
    expect(lines[1]).toBe('[Shop-Worker] SendEmail 996645… done 12 ms');
  });

  it('prints the lines as printed with --json, metrics included', async () => {
    const { reader } = fakeReader({ '/aws/lambda/Shop-Worker': [[{ timestamp: 999_000, message: `${EMF}\n`, eventId: '1' }]] });
    expect((await run(['--once', '--json'], reader)).out).toBe(`[Shop-Worker] ${EMF}\n`);
  });

  it('reads a deployed stack with --stack, in its region', async () => {
    const { reader } = fakeReader({});
    expect((await run(['--once', '--stack', 'Shop', '--region', 'eu-west-1'], reader)).targets).toEqual([{ stack: 'Shop', region: 'eu-west-1' }]);
  });

  it('says where it reads from when it has nowhere to read', () => {
    const io = { stdout: () => undefined, stderr: () => undefined, stderrIsTTY: false, env: {} };
    expect(() => tailTarget({}, io)).toThrow(/pass --stack <name> for a deployed stack, or run it with the variables hopper dev prints/);
  });
});

describe('the local runtime\'s CloudWatch Logs', () => {
  it('keeps each function\'s lines in its log group, and answers DescribeLogGroups and FilterLogEvents a page at a time', () => {
    let now = 5_000;
    const store = new LogStore(3, () => now);
    for (const message of ['a', 'b', 'c', 'd']) {
      store.add('/aws/lambda/Shop-Worker', 'stream-1', message);
      now += 1;
    }
    store.add('/aws/lambda/Shop-Retry', 'stream-2', 'r');

    expect(answerLogs(store, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/' }).body).toMatchObject({ logGroups: [{ logGroupName: '/aws/lambda/Shop-Retry' }, { logGroupName: '/aws/lambda/Shop-Worker' }] });
    // Three kept per group: the oldest is gone.
    const first = answerLogs(store, 'FilterLogEvents', { logGroupName: '/aws/lambda/Shop-Worker', startTime: 5_000, limit: 2 });
    expect(first.body).toMatchObject({ events: [{ message: 'b', timestamp: 5_001, logStreamName: 'stream-1' }, { message: 'c' }], nextToken: expect.any(String) });
    const token = (first.body as { nextToken: string }).nextToken;
    expect(answerLogs(store, 'FilterLogEvents', { logGroupName: '/aws/lambda/Shop-Worker', nextToken: token }).body).toMatchObject({ events: [{ message: 'd' }] });
    expect(answerLogs(store, 'FilterLogEvents', { logGroupName: '/aws/lambda/Shop-Worker', startTime: 5_003 }).body).toMatchObject({ events: [{ message: 'd' }] });
  });

  it('refuses what it does not emulate, as CloudWatch names its errors', () => {
    const store = new LogStore();
    store.add('/aws/lambda/Shop-Worker', 's', 'x');
    expect(answerLogs(store, 'FilterLogEvents', { logGroupName: '/aws/lambda/Nope' })).toMatchObject({ status: 400, body: { __type: 'ResourceNotFoundException' } });
    expect(answerLogs(store, 'FilterLogEvents', { logGroupName: '/aws/lambda/Shop-Worker', filterPattern: 'ERROR' })).toMatchObject({ status: 400, body: { __type: 'InvalidParameterException' } });
    expect(answerLogs(store, 'PutLogEvents', {})).toMatchObject({ status: 400, body: { __type: 'UnknownOperationException' } });
  });
});
