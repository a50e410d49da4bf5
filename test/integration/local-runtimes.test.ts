/**
 * Functions whose runtime is not Node.js, run by the local runtime from a template as Lambda runs
 * them: a `python3.12` function under the runtime's Python bootstrap and a `provided.al2023` custom
 * runtime from its own `bootstrap`, both through the Lambda Runtime API. Invocations, errors, init
 * errors, timeouts, crashes, the environment, and an SQS mapping with partial batch responses.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCollector } from '../../local/log.js';
import type { Invocation } from '../../local/host/function-pool.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { writeAssembly } from '../fixtures/assembly.js';
import { PYTHON } from './polyglot-process.js';

const PYTHON_CODE = `
import json, os, sys, time
import boto3

def handler(event, context):
    print(f"got {json.dumps(event)}")
    if event.get("fail"):
        raise ValueError("bad input: " + event["fail"])
    if event.get("exit"):
        os._exit(3)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("unmarshal"):
        return {"value": object()}
    return {
        "echo": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "remainingPositive": 0 < context.get_remaining_time_in_millis() <= 2000,
        "greeting": os.environ.get("GREETING"),
        "pid": os.getpid(),
        "python": sys.version_info.major,
    }

def on_messages(event, context):
    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
    failures = []
    for record in event["Records"]:
        if record["body"] == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            sqs.send_message(QueueUrl=os.environ["OUT_URL"], MessageBody="seen " + record["body"])
    return {"batchItemFailures": failures}
`;

/** A custom runtime: any executable that speaks the Runtime API (here a Node.js script). */
const CUSTOM_BOOTSTRAP = `#!/usr/bin/env node
const api = 'http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2018-06-01/runtime';
(async () => {
  for (;;) {
    const next = await fetch(api + '/invocation/next');
    const id = next.headers.get('lambda-runtime-aws-request-id');
    const event = await next.json();
    if (event.fail) {
      await fetch(api + '/invocation/' + id + '/error', { method: 'POST', headers: { 'Lambda-Runtime-Function-Error-Type': 'Custom.Failure' }, body: JSON.stringify({ errorMessage: 'refused ' + event.fail, errorType: 'Custom.Failure', stackTrace: ['bootstrap:9'] }) });
      continue;
    }
    const body = JSON.stringify({ handler: process.env._HANDLER, deadline: Number(next.headers.get('lambda-runtime-deadline-ms')) > Date.now(), doubled: event.n * 2 });
    await fetch(api + '/invocation/' + id + '/response', { method: 'POST', body });
  }
})();
`;

const scratch = mkdtempSync(join(tmpdir(), 'hopper-runtimes-'));
const logs = new LogCollector();
let local: LocalRuntime;
let sqs: SQSClient;

function pythonFunction(handler: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Type: 'AWS::Lambda::Function',
    Properties: { Runtime: 'python3.12', Handler: handler, Timeout: 2, Code: { ZipFile: PYTHON_CODE }, Role: 'arn:aws:iam::000000000000:role/r', ...extra },
  };
}

beforeAll(async () => {
  const assemblyDir = writeAssembly(scratch, 'Runtimes', {
    Resources: {
      Inbox: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 2, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['InboxDead', 'Arn'] }, maxReceiveCount: 1 } } },
      InboxDead: { Type: 'AWS::SQS::Queue' },
      Out: { Type: 'AWS::SQS::Queue' },
      Py: pythonFunction('index.handler', { Environment: { Variables: { GREETING: 'hello from the template' } } }),
      PyConsumer: pythonFunction('index.on_messages', { Environment: { Variables: { OUT_URL: { Ref: 'Out' } } } }),
      PyMissing: pythonFunction('index.missing'),
      PyConsumerMapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { EventSourceArn: { 'Fn::GetAtt': ['Inbox', 'Arn'] }, FunctionName: { Ref: 'PyConsumer' }, BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] },
      },
      Java: { Type: 'AWS::Lambda::Function', Properties: { Runtime: 'java21', Handler: 'example.Handler::handleRequest', Code: { ZipFile: '' }, Role: 'arn:aws:iam::000000000000:role/r' } },
      Custom: {
        Type: 'AWS::Lambda::Function',
        Properties: { Runtime: 'provided.al2023', Handler: 'doubler', Timeout: 5, Code: { S3Bucket: 'assets', S3Key: 'custom.zip' }, Role: 'arn:aws:iam::000000000000:role/r' },
        Metadata: { 'aws:asset:path': 'asset.custom' },
      },
    },
  });
  mkdirSync(join(assemblyDir, 'asset.custom'));
  writeFileSync(join(assemblyDir, 'asset.custom', 'bootstrap'), CUSTOM_BOOTSTRAP);
  chmodSync(join(assemblyDir, 'asset.custom', 'bootstrap'), 0o755);
  local = await startLocal({ assemblyDir, logs: logs.sink, python: PYTHON });
  sqs = new SQSClient({ endpoint: local.endpoints.sqs, region: local.env.AWS_REGION, credentials: { accessKeyId: local.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY ?? '' } });
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  await local?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('a python3.12 function', () => {
  it('runs its handler with the event, the context and the environment, on a warm instance', async () => {
    const first = await local.invoke('Py', { n: 1 });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    const py = local.functions.find((fn) => fn.logicalId === 'Py');
    expect(first.value).toMatchObject({
      echo: { n: 1 },
      requestId: first.requestId,
      functionName: py?.name,
      arn: py?.arn,
      memory: '128',
      remainingPositive: true,
      greeting: 'hello from the template',
      python: 3,
    });
    const second = await local.invoke('Py', { n: 2 });
    expect(second.ok && second.value).toMatchObject({ echo: { n: 2 } });
    // One process served both: the handler module was imported once.
    expect(pidOf(second)).toBe(pidOf(first));
    expect(logs.from('Py')).toContain('got {"n": 1}');
  });

  it("fails an invocation with the exception's type, message and stack, and keeps the instance", async () => {
    const failed = await local.invoke('Py', { fail: 'no name' });
    expect(failed.ok).toBe(false);
    if (failed.ok) return;
    expect(failed.error).toMatchObject({ errorType: 'ValueError', errorMessage: 'bad input: no name' });
    expect(failed.error.trace.join('')).toContain('in handler');
    expect(logs.from('Py').some((line) => line.startsWith('[ERROR] ValueError: bad input: no name'))).toBe(true);
    const after = await local.invoke('Py', { n: 3 });
    expect(after.ok).toBe(true);
  });

  it('fails a response that is not JSON with Runtime.MarshalError', async () => {
    const failed = await local.invoke('Py', { unmarshal: true });
    expect(!failed.ok && failed.error.errorType).toBe('Runtime.MarshalError');
  });

  it('times out past its Timeout, and the next invocation gets a new instance', async () => {
    const before = await local.invoke('Py', { n: 4 });
    const slow = await local.invoke('Py', { sleep: 5 });
    expect(!slow.ok && slow.error).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 2.00 seconds' });
    const after = await local.invoke('Py', { n: 5 });
    expect(pidOf(after)).not.toBe(pidOf(before));
  }, 20_000);

  it('fails only the invocation whose process exited', async () => {
    const crashed = await local.invoke('Py', { exit: true });
    expect(!crashed.ok && crashed.error).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited with error: exit status 3' });
    expect((await local.invoke('Py', { n: 6 })).ok).toBe(true);
  });

  it('reports a handler its module does not have as an init error', async () => {
    const failed = await local.invoke('PyMissing', {});
    expect(!failed.ok && failed.error).toMatchObject({ errorType: 'Runtime.HandlerNotFound', errorMessage: "Handler 'missing' missing on module 'index'" });
  });

  it('consumes an SQS queue through its mapping, with partial batch responses', async () => {
    const inbox = local.queueUrl('Inbox');
    await sqs.send(new SendMessageCommand({ QueueUrl: inbox, MessageBody: 'one' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: inbox, MessageBody: 'fail' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: inbox, MessageBody: 'two' }));
    const seen = await drain(local.queueUrl('Out'), 2);
    expect(seen.sort()).toEqual(['seen one', 'seen two']);
    // The failed record alone went back to the queue, and on to its dead-letter queue when it came back (visible again after 2 s).
    expect(await drain(local.queueUrl('InboxDead'), 1)).toEqual(['fail']);
  }, 60_000);
});

describe('a provided.al2023 function', () => {
  it('runs its own bootstrap against the Runtime API: responses and errors', async () => {
    const doubled = await local.invoke('Custom', { n: 21 });
    expect(doubled.ok && doubled.value).toEqual({ handler: 'doubler', deadline: true, doubled: 42 });
    const failed = await local.invoke('Custom', { fail: 'this' });
    expect(!failed.ok && failed.error).toEqual({ errorType: 'Custom.Failure', errorMessage: 'refused this', trace: ['bootstrap:9'] });
  });
});

describe('a runtime the local runtime does not host', () => {
  it('is named in the warnings, and its invocations fail saying why', async () => {
    expect(local.warnings).toContain('Java: runtime "java21" is not supported locally (only nodejs*, python3.* and provided*); it will not run');
    const failed = await local.invoke('Java', {});
    expect(!failed.ok && failed.error.errorType).toBe('Runtime.Unsupported');
  });
});

/** The process id a successful invocation of `Py` reports. */
function pidOf(invocation: Invocation): number {
  if (!invocation.ok) throw new Error(`the invocation failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`);
  const pid = (invocation.value as { readonly pid?: unknown }).pid;
  if (typeof pid !== 'number') throw new Error(`the invocation returned no pid: ${JSON.stringify(invocation.value)}`);
  return pid;
}

/** Receives and deletes until `count` bodies came (or 30 s passed). */
async function drain(queueUrl: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  const until = Date.now() + 30_000;
  while (bodies.length < count && Date.now() < until) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const message of Messages) bodies.push(message.Body ?? '');
  }
  return bodies;
}
