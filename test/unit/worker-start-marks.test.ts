import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createWorker } from '../../lib/worker/index.js';
import { ScriptedDynamo } from './state-fake.js';
import { FakeSqs, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

describe('a worker running a job delivered again', () => {
  it('writes its start mark before the handler runs, keyed by jid and attempt, and none for a first delivery', async () => {
    const dynamo = new ScriptedDynamo();
    const order: string[] = [];
    dynamo.onSend = (command) => { order.push(command.constructor.name); };
    const handler = createWorker({
      jobs: { Echo: () => { order.push('handler'); } },
      env: TEST_ENV, clients: { sqs: new FakeSqs(), dynamo }, now: () => NOW, log: memoryLog().sink,
    });

    await handler(sqsEvent([sqsRecord({ body: { jid: 'first', jobtype: 'Echo' } })]), lambdaContext());
    expect(dynamo.sent).toEqual([]);

    const again = sqsRecord({ body: { jid: 'again', jobtype: 'Echo', failure: { retry_count: 2, failed_at: NOW.toISOString(), message: 'x', errtype: 'Error' } }, attributes: { ApproximateReceiveCount: '3' } });
    const result = await handler(sqsEvent([again]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(order).toEqual(['handler', 'PutItemCommand', 'handler']);
    expect(dynamo.sentOf(PutItemCommand)[0]?.input.Item).toEqual({
      pk: { S: 'startmark#again' }, sk: { S: 'attempt#2' }, ttl: { N: String(NOW.getTime() / 1000 + 15 * 86_400) },
    });
  });

  it('runs the job when the mark cannot be written, saying so', async () => {
    const dynamo = new ScriptedDynamo();
    dynamo.script.push({ error: Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }) });
    const log = memoryLog();
    let ran = 0;
    const handler = createWorker({ jobs: { Echo: () => { ran += 1; } }, env: TEST_ENV, clients: { sqs: new FakeSqs(), dynamo }, now: () => NOW, log: log.sink });

    const result = await handler(sqsEvent([sqsRecord({ body: { jid: 'j', jobtype: 'Echo' }, attributes: { ApproximateReceiveCount: '2' } })]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toBe(1);
    expect(log.lines.map((line) => line.message)).toContain('start mark not written; a crash of this run may be let off as a throttled delivery');
  });
});
