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
    // A worker loads the SQS SDK on its first send (a failure, a heartbeat, ctx.enqueue), not at import.
    { module: 'lib/worker/index.ts', clients: [] },
    { module: 'lib/retry/handler.ts', clients: [] },
    // The scheduler and cron functions load their SDKs on their first invocation, not at import.
    { module: 'lib/scheduler/handler.ts', clients: [] },
    { module: 'lib/cron/handler.ts', clients: [] },
    { module: 'lib/client/client.ts', clients: [] },
    { module: 'lib/batch/handler.ts', clients: [] },
    { module: 'lib/limiters/index.ts', clients: [] },
    { module: 'lib/stats/recorder.ts', clients: [] },
    // The control: the probe does see an SDK when it is loaded.
    { module: 'lib/storage/index.ts', clients: ['client-dynamodb'] },
  ])('$module loads $clients', ({ module, clients }) => {
    expect(clientsLoadedBy(module)).toEqual(clients);
  });

  it('running a plain job through a worker loads no AWS SDK; a batch job loads DynamoDB\'s', () => {
    const run = (custom: string) => [
      "const env = { HOPPER_RETRIES_QUEUE_URL: 'https://sqs.example/1/retries', HOPPER_QUEUE_URLS: JSON.stringify({ default: 'https://sqs.example/1/default' }),",
      "  HOPPER_STATE_TABLE: 'state', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_MAX_ATTEMPTS: '1' };",
      "const sqs = { send: async () => ({ Successful: [], Failed: [] }) };",
      "const handler = mod.createWorker({ env, clients: { sqs }, log: () => undefined, jobs: { Greet: () => undefined } });",
      `const body = JSON.stringify({ jid: 'j1', jobtype: 'Greet', args: [], ${custom} });`,
      "const record = { messageId: 'm1', receiptHandle: 'r', body, attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:1:default', awsRegion: 'us-east-1' };",
      "await handler({ Records: [record] }, { getRemainingTimeInMillis: () => 60000, awsRequestId: 'req' });",
    ].join('\n');

    expect(clientsLoadedBy('lib/worker/index.ts', run(''))).toEqual([]);
    expect(clientsLoadedBy('lib/worker/index.ts', run("custom: { bid: 'b1' }"))).toEqual(['client-dynamodb']);
  });

  it('a worker bundle refers to the AWS SDK only through dynamic imports', async () => {
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
    // Loaded at cold start only if imported statically; a dynamic import loads DynamoDB's when a
    // batch or unique job (or a stats flush) first needs it, SQS's on the first send.
    const sdk = imports.filter((entry) => entry.path.startsWith('@aws-sdk/'));
    expect(new Set(sdk.map((entry) => `${entry.path} ${entry.kind}`))).toEqual(new Set(['@aws-sdk/client-dynamodb dynamic-import', '@aws-sdk/client-sqs dynamic-import']));
  });
});
