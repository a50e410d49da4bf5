/**
 * The local runtime enforces what Lambda enforces: a function environment over 4 KB and
 * reservations that leave too little unreserved concurrency are refused at start; payloads over
 * 6 MB (synchronous) and 1 MB (asynchronous) are refused as Lambda refuses them; reserved
 * concurrency throttles, and a throttled SQS batch returns to its queue with one more receive, so a
 * burst reaches the dead-letter queue without its handler running.
 *
 * Stacks are hand-made templates with inline code: no synthesis, one runtime for the file.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { TemplateError } from '../../local/template/model.js';
import { writeAssembly } from '../fixtures/assembly.js';
import { descendants, eventually, printRuntimeLogsOnFailure, sqsClient } from '../fixtures/local-helpers.js';

const scratch = join(process.cwd(), '.hopper', `limits-tests-${process.pid}`);
mkdirSync(scratch, { recursive: true });

const role = { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } };
const inlineFunction = (code: string, properties: Record<string, unknown> = {}) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Runtime: 'nodejs22.x', Handler: 'index.handler', Code: { ZipFile: code }, Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, ...properties },
});

async function startError(stackName: string, resources: Record<string, unknown>): Promise<TemplateError> {
  const assemblyDir = writeAssembly(scratch, stackName, { Resources: resources });
  const before = descendants(process.pid);
  const error: unknown = await startLocal({ assemblyDir, logs: new LogCollector().sink }).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  // Refused before anything started.
  expect(descendants(process.pid)).toEqual(before);
  if (!(error instanceof TemplateError)) throw new Error(`expected a TemplateError, got ${String(error)}`);
  return error;
}

describe('refused at start, as CloudFormation would fail to create the function', () => {
  it('names the function whose environment is over 4 KB, and its largest variables', async () => {
    const error = await startError('BigEnv', {
      Role: role,
      Small: inlineFunction('exports.handler = async () => 1;', { Environment: { Variables: { A: 'x'.repeat(4_000) } } }),
      Api: inlineFunction('exports.handler = async () => 1;', {
        Environment: {
          Variables: {
            HOPPER_CRONS: 'c'.repeat(2_400),
            HOPPER_QUEUE_URLS: 'q'.repeat(1_500),
            // Multi-byte characters count as their UTF-8 bytes: 150 × 2.
            HOPPER_TENANTS: 'ü'.repeat(150),
            MODE: 'on',
          },
        },
      }),
    });
    // 12 + 2,400 + 17 + 1,500 + 14 + 300 + 4 + 2 = 4,249 bytes; Small (4,001 bytes) fits.
    expect(error.logicalId).toBe('Api');
    expect(error.message).toBe(
      "template resource Api (AWS::Lambda::Function): Lambda refuses this function: its environment variables come to 4,249 bytes (keys and values, UTF-8), over Lambda's limit of 4,096 bytes; the largest: HOPPER_CRONS (2,412 bytes), HOPPER_QUEUE_URLS (1,517 bytes), HOPPER_TENANTS (314 bytes). Move what grows out of the environment (a configuration file in the bundle, a parameter read once per instance)",
    );
  });

  it('counts queue URLs at the length AWS gives them', async () => {
    // 63 URLs of https://sqs.us-east-1.amazonaws.com/000000000000/hopper-queue-NN (64 bytes each),
    // joined by commas: 4,032 + 62 + 17 for the key = 4,111 bytes, over the limit on AWS (a local
    // URL such as http://sqs.us-east-1.localhost/… would have counted 3,796).
    const count = 63;
    const queues = Object.fromEntries(Array.from({ length: count }, (_, index) => [`Queue${index}`, { Type: 'AWS::SQS::Queue', Properties: { QueueName: `hopper-queue-${String(index).padStart(2, '0')}` } }]));
    const urls = { 'Fn::Join': [',', Array.from({ length: count }, (_, index) => ({ Ref: `Queue${index}` }))] };
    const error = await startError('Urls', { Role: role, ...queues, Worker: inlineFunction('exports.handler = async () => 1;', { Environment: { Variables: { HOPPER_QUEUE_URLS: urls } } }) });
    expect(error.logicalId).toBe('Worker');
    expect(error.message).toContain("its environment variables come to 4,111 bytes (keys and values, UTF-8), over Lambda's limit of 4,096 bytes; the largest: HOPPER_QUEUE_URLS (4,111 bytes)");
  });

  it('refuses reservations that leave less than 100 of the account unreserved', async () => {
    const error = await startError('Reserved', {
      Role: role,
      First: inlineFunction('exports.handler = async () => 1;', { ReservedConcurrentExecutions: 800 }),
      Second: inlineFunction('exports.handler = async () => 1;', { ReservedConcurrentExecutions: 150 }),
    });
    expect(error.message).toBe(
      "template resource Second (AWS::Lambda::Function): Properties.ReservedConcurrentExecutions 150 would leave 50 of the account's 1000 concurrent executions unreserved; Lambda keeps at least 100 unreserved",
    );
  });
});

const HANDLER = `
exports.handler = async (event) => {
  if (Array.isArray(event.Records)) {
    for (const record of event.Records) console.log('ran ' + record.body);
    return {};
  }
  if (typeof event.body === 'string') {
    const asked = JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body);
    return { statusCode: 200, body: 'y'.repeat(asked.respondBytes || 2) };
  }
  if (event.sleepMs) {
    console.log('occupied for ' + event.sleepMs + ' ms');
    await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
    console.log('free again');
  }
  if (event.respondBytes) return 'x'.repeat(event.respondBytes);
  return { size: JSON.stringify(event).length };
};`;

let local: LocalRuntime;
let lambda: LambdaClient;
let sqs: SQSClient;
const logs = new LogCollector();
printRuntimeLogsOnFailure(logs);

beforeAll(async () => {
  const assemblyDir = writeAssembly(scratch, 'Limits', {
    Resources: {
      Role: role,
      // Open: no reservation (the account's unreserved concurrency).
      Open: inlineFunction(HANDLER, { FunctionName: 'open', Timeout: 30, MemorySize: 512 }),
      // Single: one concurrent execution, fed by a queue whose messages may be received twice.
      Single: inlineFunction(HANDLER, { FunctionName: 'single', Timeout: 30, ReservedConcurrentExecutions: 1 }),
      OpenUrl: { Type: 'AWS::Lambda::Url', Properties: { TargetFunctionArn: { 'Fn::GetAtt': ['Open', 'Arn'] }, AuthType: 'NONE' } },
      Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'burst-dlq' } },
      Burst: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: 'burst', VisibilityTimeout: 1, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 2 } },
      },
      BurstMapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Single' }, EventSourceArn: { 'Fn::GetAtt': ['Burst', 'Arn'] }, BatchSize: 1 } },
    },
  });
  local = await startLocal({ assemblyDir, logs: logs.sink });
  lambda = new LambdaClient({ endpoint: local.endpoints.lambda, region: 'us-east-1', credentials: { accessKeyId: 'hopperlocal', secretAccessKey: 'hopperlocal' }, maxAttempts: 1 });
  sqs = sqsClient(local);
});

afterAll(async () => {
  lambda?.destroy();
  sqs?.destroy();
  await local?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Status, headers and body of a raw Invoke call. */
async function rawInvoke(fn: string, body: string, invocationType = 'RequestResponse'): Promise<{ status: number; errorType: string | null; functionError: string | null; body: string }> {
  const response = await fetch(`${local.endpoints.lambda}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', body, headers: { 'x-amz-invocation-type': invocationType } });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), functionError: response.headers.get('x-amz-function-error'), body: await response.text() };
}

describe('payload limits', () => {
  const MB = 1024 * 1024;
  const padded = (bytes: number) => JSON.stringify({ pad: 'p'.repeat(bytes - 10) }); // exactly `bytes` long

  it('refuses a synchronous request over 6 MB with 413 RequestEntityTooLargeException, and takes one of exactly 6 MB', async () => {
    expect(padded(6 * MB)).toHaveLength(6 * MB);
    const over = await rawInvoke('open', padded(6 * MB + 1));
    const exact = await rawInvoke('open', padded(6 * MB));
    expect({ status: over.status, errorType: over.errorType, body: JSON.parse(over.body) }).toEqual({
      status: 413,
      errorType: 'RequestEntityTooLargeException',
      body: { Type: 'User', message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation', __type: 'RequestEntityTooLargeException' },
    });
    expect({ status: exact.status, body: JSON.parse(exact.body) }).toEqual({ status: 200, body: { size: 6 * MB } });
  });

  it('refuses an asynchronous (Event) request over 1 MB, and accepts one of exactly 1 MB', async () => {
    const over = await rawInvoke('open', padded(MB + 1), 'Event');
    const exact = await rawInvoke('open', padded(MB), 'Event');
    expect({ status: over.status, errorType: over.errorType, message: JSON.parse(over.body).message }).toEqual({
      status: 413,
      errorType: 'RequestEntityTooLargeException',
      message: 'Request must be smaller than 1048576 bytes for the InvokeFunction operation',
    });
    expect(exact.status).toBe(202);
  });

  it('fails a response over 6 MB with Function.ResponseSizeTooLarge', async () => {
    // A JSON string of n characters is n + 2 bytes.
    const over = await rawInvoke('open', JSON.stringify({ respondBytes: 6 * MB + 99 }));
    const exact = await rawInvoke('open', JSON.stringify({ respondBytes: 6 * MB + 98 }));
    expect({ status: over.status, functionError: over.functionError, body: JSON.parse(over.body) }).toEqual({
      status: 200,
      functionError: 'Unhandled',
      body: { errorType: 'Function.ResponseSizeTooLarge', errorMessage: 'Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).', trace: [] },
    });
    expect({ status: exact.status, functionError: exact.functionError, length: exact.body.length }).toEqual({ status: 200, functionError: null, length: 6 * MB + 100 });
  });

  it('answers a function URL request over 6 MB with 413, and a response over 6 MB with 502', async () => {
    const url = local.functionUrl('Open');
    const tooLarge = await fetch(url, { method: 'POST', body: 'b'.repeat(6 * MB + 1) });
    const hugeResponse = await fetch(url, { method: 'POST', body: JSON.stringify({ respondBytes: 6 * MB + 200 }) });
    const fine = await fetch(url, { method: 'POST', body: JSON.stringify({ respondBytes: 10 }) });
    expect({ status: tooLarge.status, body: await tooLarge.json() }).toEqual({ status: 413, body: { Message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' } });
    expect({ status: hugeResponse.status, body: await hugeResponse.json() }).toEqual({ status: 502, body: { Message: 'Internal Server Error' } });
    expect({ status: fine.status, body: await fine.text() }).toEqual({ status: 200, body: 'y'.repeat(10) });
  });
});

describe('reserved concurrency throttles', () => {
  it('throttles a synchronous call while the reservation is in use, and counts a throttled SQS batch as a receive', async () => {
    // Occupy Single's only slot for a while with an asynchronous invocation.
    const occupant = await rawInvoke('single', JSON.stringify({ sleepMs: 6_000 }), 'Event');
    expect(occupant.status).toBe(202);
    await eventually(async () => (logs.from(logicalId('Single')).includes('occupied for 6000 ms') ? true : undefined), 10_000, 'the occupant to start');

    const throttled: unknown = await lambda.send(new InvokeCommand({ FunctionName: 'single', Payload: '{}' })).catch((error: unknown) => error);
    expect(throttled).toBeInstanceOf(TooManyRequestsException);
    expect(throttled).toMatchObject({ message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', $metadata: { httpStatusCode: 429 } });
    // An asynchronous event is kept and tried again until the slot is free.
    expect((await rawInvoke('single', JSON.stringify({ sleepMs: 1 }), 'Event')).status).toBe(202);

    // A burst while the slot is taken: every batch is throttled for its whole visibility timeout
    // (1 s), returns to the queue, is received again, and after maxReceiveCount (2) receives goes
    // to the dead-letter queue — without the handler ever running it.
    const ids = ['m1', 'm2', 'm3', 'm4'];
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: local.queueUrl('burst'), Entries: ids.map((id) => ({ Id: id, MessageBody: id })) }));
    const collected: { body: string; receives: number }[] = [];
    const dead = await eventually(async () => {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: local.queueUrl('burst-dlq'), MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
      collected.push(...(received.Messages ?? []).map((message) => ({ body: message.Body ?? '', receives: Number(message.Attributes?.ApproximateReceiveCount) })));
      return collected.length >= ids.length ? collected : undefined;
    }, 15_000, 'the burst in the dead-letter queue');
    expect(dead.map((message) => message.body).sort()).toEqual(ids);
    expect(logs.from(logicalId('Single')).filter((line) => line.startsWith('ran '))).toEqual([]);
    // Each message was received twice by the mapping (receive counts 1 and 2), throttled each time.
    const throttles = logs.from('hopper').filter((line) => line.startsWith('Single throttled'));
    expect(throttles.filter((line) => line.endsWith('(receive count 1); the messages return to the queue unrun'))).toHaveLength(ids.length);
    expect(throttles.filter((line) => line.endsWith('(receive count 2); the messages return to the queue unrun'))).toHaveLength(ids.length);
    expect(throttles[0]).toBe('Single throttled (ReservedFunctionConcurrentInvocationLimitExceeded) for the whole visibility timeout of a batch of 1 from burst (receive count 1); the messages return to the queue unrun');

    // Once the slot is free, the mapping runs messages again.
    await eventually(async () => (logs.from(logicalId('Single')).includes('free again') ? true : undefined), 15_000, 'the occupant to end');
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: local.queueUrl('burst'), Entries: [{ Id: 'late', MessageBody: 'late' }] }));
    await eventually(async () => (logs.from(logicalId('Single')).includes('ran late') ? true : undefined), 15_000, 'the late message to run');
    // Tried again after 1, 2, 4 and 8 s: it runs on the attempt after the occupant ended.
    await eventually(async () => (logs.from(logicalId('Single')).includes('occupied for 1 ms') ? true : undefined), 15_000, 'the throttled event to run');
    expect(logs.from(logicalId('Single')).filter((line) => line.startsWith('occupied for'))).toEqual(['occupied for 6000 ms', 'occupied for 1 ms']);
    expect(logs.from('hopper')).toContain('Single (async) throttled (ReservedFunctionConcurrentInvocationLimitExceeded); the event is kept and tried again');
  }, 40_000);
});

function logicalId(prefix: string): string {
  const found = local.functions.find((fn) => fn.logicalId.startsWith(prefix));
  if (found === undefined) throw new Error(`no function ${prefix}`);
  return found.logicalId;
}
