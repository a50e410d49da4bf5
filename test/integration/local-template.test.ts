/**
 * How the local runtime reads templates: a malformed resource fails fast with an error naming it,
 * before anything starts; intrinsics (Ref, GetAtt, Join, Sub, Select, Split, If) resolve to local
 * values; inline (ZipFile) functions run.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { LogCollector } from '../../local/log.js';
import { startLocal } from '../../local/runtime.js';
import { TemplateError } from '../../local/template/model.js';
import { writeAssembly } from '../fixtures/assembly.js';
import { descendants } from '../fixtures/local-helpers.js';

const scratch = join(process.cwd(), '.hopper', `template-tests-${process.pid}`);
mkdirSync(scratch, { recursive: true });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const queue = (properties: Record<string, unknown> = {}) => ({ Type: 'AWS::SQS::Queue', Properties: properties });
const inlineFunction = (code: string, properties: Record<string, unknown> = {}) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Runtime: 'nodejs22.x', Handler: 'index.handler', Code: { ZipFile: code }, Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, ...properties },
});
const role = { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } };

async function startError(resources: Record<string, unknown>, assets: Record<string, unknown> = {}): Promise<TemplateError> {
  const assemblyDir = writeAssembly(scratch, 'Malformed', { Resources: resources }, assets);
  const started = Date.now();
  const error: unknown = await startLocal({ assemblyDir, logs: new LogCollector().sink }).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  // Validation runs before the emulators start: nothing to clean up. (Starting them takes seconds:
  // the bound is loose, so that a loaded machine does not fail it.)
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(descendants(process.pid)).toEqual([]);
  if (!(error instanceof TemplateError)) throw new Error(`expected a TemplateError, got ${String(error)}`);
  return error;
}

describe('malformed templates', () => {
  it.each([
    {
      what: 'a property of the wrong type',
      resources: { BadQueue: queue({ VisibilityTimeout: 'soon' }) },
      logicalId: 'BadQueue',
      message: 'template resource BadQueue (AWS::SQS::Queue): Properties.VisibilityTimeout must be an integer, but "soon" was provided',
    },
    {
      what: 'a value out of range',
      resources: { SlowQueue: queue({ DelaySeconds: 901 }) },
      logicalId: 'SlowQueue',
      message: 'template resource SlowQueue (AWS::SQS::Queue): Properties.DelaySeconds must be between 0 and 900, but 901 was provided',
    },
    {
      what: 'a reference to a resource that does not exist',
      resources: { Role: role, Fn: inlineFunction('exports.handler = async () => 1;', { Environment: { Variables: { QUEUE: { Ref: 'Missing' } } } }) },
      logicalId: 'Fn',
      message: 'template resource Fn (AWS::Lambda::Function): Properties.Environment.Variables.QUEUE.Ref: Missing is not a resource or parameter of the template',
    },
    {
      what: 'an invalid cron expression',
      resources: {
        Role: role,
        Fn: inlineFunction('exports.handler = async () => 1;'),
        Nightly: {
          Type: 'AWS::Scheduler::Schedule',
          Properties: { ScheduleExpression: 'cron(0 25 * * ? *)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: { 'Fn::GetAtt': ['Fn', 'Arn'] }, RoleArn: 'arn:aws:iam::000000000000:role/x' } },
        },
      },
      logicalId: 'Nightly',
      message: 'template resource Nightly (AWS::Scheduler::Schedule): Properties.ScheduleExpression is not valid: the hour field must be *, values from 0 to 23, ranges (a-b), steps (/n) or lists (a,b), but "25" was provided',
    },
    {
      what: 'a mapping to a function the stack does not have',
      resources: { Jobs: queue(), Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: 'elsewhere', EventSourceArn: { 'Fn::GetAtt': ['Jobs', 'Arn'] } } } },
      logicalId: 'Mapping',
      message: 'template resource Mapping (AWS::Lambda::EventSourceMapping): Properties.FunctionName "elsewhere" is not a function of this stack',
    },
    {
      what: 'a handler that is not file.export',
      resources: { Role: role, Fn: inlineFunction('exports.handler = async () => 1;', { Handler: 'index' }) },
      logicalId: 'Fn',
      message: 'template resource Fn (AWS::Lambda::Function): Properties.Handler must look like file.export (e.g. index.handler), but "index" was provided',
    },
    {
      what: 'a Python handler that names no function',
      resources: { Role: role, Fn: inlineFunction('def handler(event, context): return 1', { Runtime: 'python3.12', Handler: 'index' }) },
      logicalId: 'Fn',
      message: 'template resource Fn (AWS::Lambda::Function): Properties.Handler must look like file.function (e.g. app.handler), but "index" was provided',
    },
    {
      what: 'a resource without a Type',
      resources: { Typeless: { Properties: {} } },
      logicalId: 'Typeless',
      message: 'template resource Typeless (unknown type): Type must be a non-empty string, but nothing was provided',
    },
  ])('names the resource and the problem for $what', async ({ resources, logicalId, message }) => {
    const error = await startError(resources);
    expect(error.logicalId).toBe(logicalId);
    expect(error.message).toBe(message);
  });
});

describe('intrinsics and inline code', () => {
  it('resolves intrinsics to local values and runs inline functions through the Lambda API', async () => {
    const assemblyDir = writeAssembly(scratch, 'Intrinsics', {
      Conditions: { IsLocal: { 'Fn::Equals': [{ Ref: 'AWS::AccountId' }, '000000000000'] } },
      Resources: {
        Role: role,
        Jobs: queue({ QueueName: 'jobs-queue', VisibilityTimeout: 30 }),
        Broken: inlineFunction('exports.handler = async () => { throw new TypeError("broken on purpose"); };', { FunctionName: 'broken' }),
        Echo: inlineFunction('exports.handler = async (event) => ({ got: event, env: process.env.SETTINGS });', {
          FunctionName: 'echo',
          Environment: {
            Variables: {
              SETTINGS: { 'Fn::Join': ['', ['{"queue":"', { Ref: 'Jobs' }, '","name":"', { 'Fn::GetAtt': ['Jobs', 'QueueName'] }, '"}']] },
            },
          },
        }),
      },
      Outputs: {
        QueueArn: { Value: { 'Fn::GetAtt': ['Jobs', 'Arn'] } },
        Sub: { Value: { 'Fn::Sub': ['${Name} in ${AWS::Region} (${!Literal})', { Name: { 'Fn::GetAtt': ['Jobs', 'QueueName'] } }] } },
        SubAttribute: { Value: { 'Fn::Sub': '${Echo.Arn}' } },
        Second: { Value: { 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] } },
        Where: { Value: { 'Fn::If': ['IsLocal', 'local', 'aws'] } },
      },
    });
    const local = await startLocal({ assemblyDir, logs: new LogCollector().sink });
    try {
      const queueUrl = local.queueUrl('jobs-queue');
      expect(local.outputs).toEqual({
        QueueArn: 'arn:aws:sqs:us-east-1:000000000000:jobs-queue',
        Sub: 'jobs-queue in us-east-1 (${Literal})',
        SubAttribute: 'arn:aws:lambda:us-east-1:000000000000:function:echo',
        Second: 'b',
        Where: 'local',
      });
      const lambda = new LambdaClient({ endpoint: local.endpoints.lambda, region: 'us-east-1', credentials: { accessKeyId: 'hopperlocal', secretAccessKey: 'hopperlocal' } });
      try {
        const echoed = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: JSON.stringify({ hello: 1 }) }));
        expect(echoed.StatusCode).toBe(200);
        expect(JSON.parse(Buffer.from(echoed.Payload ?? []).toString())).toEqual({ got: { hello: 1 }, env: JSON.stringify({ queue: queueUrl, name: 'jobs-queue' }) });
        const broken = await lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:broken', Payload: '{}' }));
        expect(broken.FunctionError).toBe('Unhandled');
        expect(JSON.parse(Buffer.from(broken.Payload ?? []).toString())).toMatchObject({ errorType: 'TypeError', errorMessage: 'broken on purpose' });
      } finally {
        lambda.destroy();
      }
    } finally {
      await local.stop();
    }
  });
});

/** A nested stack resource as the CDK writes it: its template a file asset named by the URL's last segment. */
const nestedStack = (key: string, parameters: Record<string, unknown> = {}) => ({
  Type: 'AWS::CloudFormation::Stack',
  Properties: {
    TemplateURL: { 'Fn::Join': ['', ['https://s3.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/', { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, `/${key}`]] },
    Parameters: parameters,
  },
});

describe('nested stacks', () => {
  it('creates a nested stack\'s resources, passing parameters down and outputs up', async () => {
    const inner = {
      Parameters: { Retention: { Type: 'String' }, Label: { Type: 'String', Default: 'inner' } },
      Resources: {
        Work: queue({ QueueName: 'nested-work', MessageRetentionPeriod: { Ref: 'Retention' } }),
        Count: inlineFunction('exports.handler = async () => ({ label: process.env.LABEL });', { FunctionName: 'nested-count', Environment: { Variables: { LABEL: { Ref: 'Label' } } }, Role: 'arn:aws:iam::000000000000:role/any' }),
      },
      Outputs: { WorkUrl: { Value: { Ref: 'Work' } }, WorkArn: { Value: { 'Fn::GetAtt': ['Work', 'Arn'] } } },
    };
    const assemblyDir = writeAssembly(scratch, 'Parent', {
      Resources: {
        Role: role,
        Inner: nestedStack('inner.json', { Retention: '600' }),
        Echo: inlineFunction('exports.handler = async () => ({ url: process.env.URL });', {
          FunctionName: 'parent-echo',
          Environment: { Variables: { URL: { 'Fn::GetAtt': ['Inner', 'Outputs.WorkUrl'] } } },
        }),
      },
      Outputs: { InnerArn: { Value: { 'Fn::GetAtt': ['Inner', 'Outputs.WorkArn'] } } },
    }, { 'inner.json': inner });
    const local = await startLocal({ assemblyDir, logs: new LogCollector().sink });
    try {
      const url = local.queueUrl('nested-work');
      expect(local.outputs).toEqual({ InnerArn: 'arn:aws:sqs:us-east-1:000000000000:nested-work' });
      const lambda = new LambdaClient({ endpoint: local.endpoints.lambda, region: 'us-east-1', credentials: { accessKeyId: 'hopperlocal', secretAccessKey: 'hopperlocal' } });
      try {
        const echoed = await lambda.send(new InvokeCommand({ FunctionName: 'parent-echo', Payload: '{}' }));
        expect(JSON.parse(Buffer.from(echoed.Payload ?? []).toString())).toEqual({ url });
        const counted = await lambda.send(new InvokeCommand({ FunctionName: 'nested-count', Payload: '{}' }));
        expect(JSON.parse(Buffer.from(counted.Payload ?? []).toString())).toEqual({ label: 'inner' });
      } finally {
        lambda.destroy();
      }
    } finally {
      await local.stop();
    }
  });

  it('refuses a nested stack whose template is not a file asset of the assembly, naming it', async () => {
    const error = await startError({ Inner: nestedStack('missing.json') });
    expect(error.message).toMatch(/^template resource Inner \(AWS::CloudFormation::Stack\): Properties\.TemplateURL "https:\/\/s3\.us-east-1\.amazonaws\.com\/cdk-hnb659fds-assets-000000000000-us-east-1\/missing\.json" names no file asset of the assembly/);
  });

  it('refuses a nested stack that passes no value for a parameter without a Default, naming both', async () => {
    const error = await startError({ Inner: nestedStack('inner.json', {}) }, { 'inner.json': { Parameters: { Retention: { Type: 'String' } }, Resources: { Work: queue() } } });
    expect(error.message).toBe('template resource Inner (AWS::CloudFormation::Stack): Properties.Parameters has no value for Retention, which the nested template declares without a Default');
  });

  it('names a malformed resource of a nested template by its own logical id', async () => {
    const error = await startError({ Inner: nestedStack('inner.json') }, { 'inner.json': { Resources: { BadQueue: queue({ VisibilityTimeout: 'soon' }) } } });
    expect(error.message).toBe('template resource BadQueue (AWS::SQS::Queue): Properties.VisibilityTimeout must be an integer, but "soon" was provided');
  });
});

describe('custom resources', () => {
  /** An inline function that records the request in `file` and PUTs `answer` to the response URL. */
  const provider = (file: string, answer: Record<string, unknown> | undefined) => inlineFunction(`
const fs = require('node:fs');
const http = require('node:http');
exports.handler = async (event) => {
  fs.writeFileSync(${JSON.stringify(file)}, JSON.stringify(event));
  const answer = ${JSON.stringify(answer ?? null)};
  if (answer === null) return 'no answer';
  const body = JSON.stringify({ ...answer, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId });
  await new Promise((resolve, reject) => {
    const req = http.request(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' } }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });
  return 'answered';
};`);

  async function start(name: string, answer: Record<string, unknown> | undefined): Promise<{ readonly error: unknown; readonly request: Record<string, unknown> }> {
    const file = join(scratch, `${name}-request.json`);
    const assemblyDir = writeAssembly(scratch, name, {
      Resources: {
        Role: role,
        Jobs: queue({ QueueName: `${name.toLowerCase()}-jobs` }),
        Provider: provider(file, answer),
        Settings: {
          Type: 'Custom::Settings',
          Properties: { ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] }, QueueUrl: { Ref: 'Jobs' }, Retries: 3, Nested: { On: true } },
        },
      },
    });
    const error = await startLocal({ assemblyDir, logs: new LogCollector().sink }).then((local) => local.stop(), (failure: unknown) => failure);
    const { readFileSync } = await import('node:fs');
    return { error, request: JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> };
  }

  it('invokes the ServiceToken function with a Create request, its properties resolved and as strings, and starts once it answers SUCCESS', async () => {
    const { error, request } = await start('CustomOk', { Status: 'SUCCESS', PhysicalResourceId: 'settings-1' });

    expect(error).toBeUndefined();
    expect(request).toMatchObject({
      RequestType: 'Create',
      ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:CustomOk-Provider',
      StackId: expect.stringMatching(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/CustomOk\//),
      LogicalResourceId: 'Settings',
      ResourceType: 'Custom::Settings',
      ResourceProperties: {
        ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:CustomOk-Provider',
        QueueUrl: expect.stringMatching(/\/customok-jobs$/),
        Retries: '3',
        Nested: { On: 'true' },
      },
    });
    expect(request.ResponseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('stops the start with the reason of a FAILED answer, as CloudFormation rolls back', async () => {
    const { error } = await start('CustomFailed', { Status: 'FAILED', Reason: 'the license key is not valid', PhysicalResourceId: 'none' });

    expect(error).toBeInstanceOf(TemplateError);
    expect((error as Error).message).toBe('template resource Settings (Custom::Settings): its function answered FAILED: the license key is not valid');
    expect(descendants(process.pid)).toEqual([]);
  });

  it('stops the start when the function returns without answering', async () => {
    const { error } = await start('CustomSilent', undefined);

    expect((error as Error).message).toBe('template resource Settings (Custom::Settings): its function returned without PUTting an answer to the ResponseURL; CloudFormation would wait an hour and roll back');
  });
});
