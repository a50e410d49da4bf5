/** What `hopper dev` gives a script: the environment of `--json` and the banner's export lines. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { devEnv, shellAssignment } from '../../cli/summary.js';

const AWS_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'hopperlocal',
  AWS_SECRET_ACCESS_KEY: 'hopperlocal',
  AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4100',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4101',
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:4101',
  AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:4102',
};

describe('devEnv', () => {
  it("adds what new Client() and the admin commands read, from a JobSystem's outputs", () => {
    const queueUrls = JSON.stringify({ default: 'http://sqs.us-east-1.localhost:4100/000000000000/default', critical: 'http://sqs.us-east-1.localhost:4100/000000000000/critical' });
    const outputs = { JobsQueueUrls: queueUrls, JobsStateTableName: 'HopperDemo-JobsStateTable-1A2B', JobsApiUrl: 'http://127.0.0.1:4103/', JobsRetriesQueueUrl: 'http://x/retries' };

    expect(devEnv({ env: AWS_ENV, outputs })).toEqual({
      ...AWS_ENV,
      HOPPER_QUEUE_URLS: queueUrls,
      HOPPER_STATE_TABLE: 'HopperDemo-JobsStateTable-1A2B',
      HOPPER_API_URL: 'http://127.0.0.1:4103/',
    });
  });

  it('is the AWS environment alone for a stack without a JobSystem', () => {
    expect(devEnv({ env: AWS_ENV, outputs: { EchoUrl: 'http://127.0.0.1:4103/' } })).toEqual(AWS_ENV);
  });
});

describe('shellAssignment', () => {
  it('quotes for a POSIX shell, JSON and single quotes included', () => {
    const value = `{"default":"http://q/1"} it's`;
    const line = shellAssignment('HOPPER_QUEUE_URLS', value);
    const echoed = execFileSync('sh', ['-c', `export ${line}; printf %s "$HOPPER_QUEUE_URLS"`], { encoding: 'utf8' });

    expect(line).toBe(`HOPPER_QUEUE_URLS='{"default":"http://q/1"} it'\\''s'`);
    expect(echoed).toBe(value);
  });
});
