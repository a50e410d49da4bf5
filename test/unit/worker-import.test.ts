import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Imports `modulePath` in a fresh Node process (then runs `then`, given the module as `mod`) and
 * lists the AWS SDK clients it loaded.
 */
function clientsLoadedBy(modulePath: string, then = ''): string[] {
  const probe = [
    "import { createRequire } from 'node:module';",
    'const mod = await import(process.argv[1]);',
    then,
    "const cache = createRequire(process.cwd() + '/').cache;",
    "const clients = Object.keys(cache).map((path) => /@aws-sdk\\/(client-[a-z0-9-]+|lib-dynamodb)\\//.exec(path)?.[1]).filter(Boolean);",
    'console.log(JSON.stringify([...new Set(clients)].sort()));',
  ].join('\n');
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe, `${ROOT}${modulePath}`], { cwd: ROOT, encoding: 'utf8' });
  const parsed: unknown = JSON.parse(output.trim().split('\n').at(-1) ?? '[]');
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

describe('what importing a module loads', () => {
  it.each([
    { module: 'lib/worker/index.ts', clients: ['client-sqs'] },
    { module: 'lib/retry.ts', clients: ['client-sqs'] },
    // The scheduler and cron functions load DynamoDB on their first invocation, not at import.
    { module: 'lib/scheduler/index.ts', clients: ['client-sqs'] },
    { module: 'lib/cron.ts', clients: ['client-sqs'] },
    { module: 'lib/client.ts', clients: ['client-sqs'] },
    { module: 'lib/batch/stream.ts', clients: ['client-sqs'] },
    { module: 'lib/limiters/index.ts', clients: ['client-sqs'] },
    { module: 'lib/stats/recorder.ts', clients: ['client-sqs'] },
    // The control: the probe does see the DynamoDB SDK when it is loaded.
    { module: 'lib/storage/index.ts', clients: ['client-dynamodb', 'client-sqs'] },
  ])('$module loads $clients', ({ module, clients }) => {
    expect(clientsLoadedBy(module)).toEqual(clients);
  });

  it('running a plain job through a worker loads no DynamoDB SDK; a batch job loads it', () => {
    const run = (custom: string) => [
      "const env = { HOPPER_RETRIES_QUEUE_URL: 'https://sqs.example/1/retries', HOPPER_QUEUE_URLS: JSON.stringify({ default: 'https://sqs.example/1/default' }),",
      "  HOPPER_STATE_TABLE: 'state', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_MAX_ATTEMPTS: '1' };",
      "const sqs = { send: async () => ({ Successful: [], Failed: [] }) };",
      "const handler = mod.createWorker({ env, clients: { sqs }, log: () => undefined, jobs: { Greet: () => undefined } });",
      `const body = JSON.stringify({ jid: 'j1', jobtype: 'Greet', args: [], ${custom} });`,
      "const record = { messageId: 'm1', receiptHandle: 'r', body, attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:1:default', awsRegion: 'us-east-1' };",
      "await handler({ Records: [record] }, { getRemainingTimeInMillis: () => 60000, awsRequestId: 'req' });",
    ].join('\n');

    expect(clientsLoadedBy('lib/worker/index.ts', run(''))).toEqual(['client-sqs']);
    expect(clientsLoadedBy('lib/worker/index.ts', run("custom: { bid: 'b1' }"))).toEqual(['client-dynamodb', 'client-sqs']);
  });

  it('a worker bundle refers to the DynamoDB SDK only through a dynamic import', async () => {
    const result = await build({
      entryPoints: [`${ROOT}lib/worker/index.ts`],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      outdir: `${ROOT}cdk.out/worker-import-probe`,
      // As the JobSystem bundles functions: the SDK comes from the Lambda runtime.
      external: ['@aws-sdk/*'],
    });

    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
    expect(imports.map((entry) => entry.path)).toContain('@aws-sdk/client-sqs');
    // Loaded at cold start only if imported statically; a dynamic import loads it when a batch or
    // unique job first needs it.
    const dynamo = imports.filter((entry) => entry.path.includes('dynamodb'));
    expect(new Set(dynamo.map((entry) => `${entry.path} ${entry.kind}`))).toEqual(new Set(['@aws-sdk/client-dynamodb dynamic-import']));
  });
});
