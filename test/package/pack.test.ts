/**
 * The package as a team gets it: `npm pack`, the tarball installed into two CDK apps (ES modules:
 * examples/cdk-app; CommonJS: as `cdk init app --language typescript` writes it), type-checked,
 * imported under plain Node, synthesized, and run with the package's own `hopper dev`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOPPER_FUNCTIONS, PREBUILT_FILE } from '../../infra/hopper-package.js';
import { ApiClient } from '../../lib/api-client/index.js';
import { BUILT_FILES } from '../../lib/common/package-files.js';
import { isRecord } from '../../lib/job/model.js';
import { exportsMap, PACKAGE_ENTRIES, typesVersionsMap } from '../../scripts/build/entries.js';
import { copyExample, initCommonJsApp, install, pack, QUIET_ENV, ROOT, run, runOk, type Packed } from './scratch.js';

let scratch: string;
let packed: Packed;
let esmApp: string;
let cjsApp: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'hopper-package-'));
  packed = await pack(scratch);
  process.stdout.write(`npm pack: ${packed.files.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked:\n${packed.files.map((file) => `  ${file.path} (${file.size})`).join('\n')}\n`);
  await install(scratch, packed.tarball);
  esmApp = copyExample(scratch);
  cjsApp = await initCommonJsApp(scratch);
}, 600_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

const bin = (name: string) => join(scratch, 'node_modules', '.bin', name);
/** The repository's own compiler: TypeScript 7, which `cdk init` now pins. */
const TSC_7 = join(ROOT, 'node_modules', '.bin', 'tsc');

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('the tarball', () => {
  it('holds built JS, declarations, the prebuilt functions and the binary, and no sources, tests or benchmarks', () => {
    const paths = packed.files.map((file) => file.path);
    const manifest: unknown = JSON.parse(readFileSync(join(scratch, 'node_modules', 'hopper-jobs', 'package.json'), 'utf8'));
    const targets = Object.values(PACKAGE_ENTRIES).flatMap((entry) => ['esm', 'cjs'].flatMap((format) => {
      const base = `dist/${format}/${entry.source.replace(/\.ts$/, '')}`;
      return [`${base}.js`, `${base}.d.ts`];
    }));

    expect(paths.filter((path) => /(^|\/)(test|tests|bench|__tests__)\/|\.test\.|\.spec\./.test(path))).toEqual([]);
    expect(paths.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((path) => !/^(dist\/(esm|cjs|functions|local|python)\/|cli\/bin\.mjs$|package\.json$|README\.md$)/.test(path))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining([
      ...targets,
      ...Object.keys(HOPPER_FUNCTIONS).flatMap((name) => [`${BUILT_FILES.functionsDir}/${name}/${PREBUILT_FILE}`, `${BUILT_FILES.functionsDir}/${name}/${PREBUILT_FILE}.map`]),
      BUILT_FILES.localRunner,
      BUILT_FILES.pythonBootstrap,
      `${BUILT_FILES.pythonModuleDir}/__init__.py`,
      `${BUILT_FILES.pythonModuleDir}/py.typed`,
      'dist/cjs/package.json',
      'dist/esm/cli/hopper.js',
      'dist/esm/cli/dashboard/static/index.html',
      'cli/bin.mjs',
    ]));
    expect(isRecord(manifest) ? { private: manifest.private, exports: manifest.exports, typesVersions: manifest.typesVersions, bin: manifest.bin } : undefined)
      .toEqual({ private: undefined, exports: exportsMap(), typesVersions: typesVersionsMap(), bin: { hopper: 'cli/bin.mjs' } });
    expect(Object.values(typesVersionsMap()['*'] ?? {}).flat().map((path) => path.replace(/^\.\//, '')).filter((path) => !paths.includes(path))).toEqual([]);
  });
});

describe('type-checking a team app', () => {
  it('passes in the ES module app with NodeNext (TypeScript 5) and with bundler resolution (TypeScript 7)', async () => {
    const [nodeNext, bundler] = await Promise.all([
      run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'], esmApp),
      run(TSC_7, ['--noEmit', '-p', 'tsconfig.bundler.json'], esmApp),
    ]);

    expect({ code: nodeNext.code, output: nodeNext.stdout }).toEqual({ code: 0, output: '' });
    expect({ code: bundler.code, output: bundler.stdout }).toEqual({ code: 0, output: '' });
  }, 300_000);

  it('passes in the CommonJS app with TypeScript 7, the compiler cdk init pins (TypeScript 5 runs in its cdk synth)', async () => {
    const checked = await run(TSC_7, ['--noEmit', '-p', 'tsconfig.json'], cjsApp);
    const cdkJson: unknown = JSON.parse(readFileSync(join(cjsApp, 'cdk.json'), 'utf8'));
    const packageJson: unknown = JSON.parse(readFileSync(join(cjsApp, 'package.json'), 'utf8'));

    expect({ code: checked.code, output: checked.stdout }).toEqual({ code: 0, output: '' });
    expect(isRecord(packageJson) ? packageJson.type : 'no package.json').toBeUndefined();
    expect(isRecord(cdkJson) ? cdkJson.app : undefined).toBe('npx tsc && npx tsx bin/cjs-app.ts');
  }, 300_000);
});

describe('loading the entry points under plain Node.js, with no loader', () => {
  const names = Object.keys(PACKAGE_ENTRIES);
  // Prints each entry point's export names, and whether an error class is the same class when
  // taken from two entry points (one module per source file, no duplicated bundles).
  const probe = (load: string) => [
    'const names = JSON.parse(process.argv[1]);',
    'const exported = {};',
    `for (const name of names) exported[name] = ${load};`,
    'const keys = Object.fromEntries(names.map((name) => [name, Object.keys(exported[name]).sort()]));',
    'const sameClass = exported.errors.UnrecoverableJobError === exported.worker.UnrecoverableJobError;',
    "const errorName = new exported.errors.HopperError('x').name;",
    'process.stdout.write(JSON.stringify({ keys, sameClass, errorName }));',
  ].join('\n');

  it('imports each entry point as an ES module and requires each as CommonJS, with the same exports', async () => {
    const [esm, cjs] = await Promise.all([
      runOk(process.execPath, ['--input-type=module', '-e', `(async () => { ${probe("await import(`hopper-jobs/${name}`)")} })()`, JSON.stringify(names)], esmApp, QUIET_ENV),
      runOk(process.execPath, ['--input-type=commonjs', '-e', probe('require(`hopper-jobs/${name}`)'), JSON.stringify(names)], cjsApp, QUIET_ENV),
    ]);
    const fromEsm: unknown = JSON.parse(esm.stdout);
    const fromCjs: unknown = JSON.parse(cjs.stdout);

    expect(fromCjs).toEqual(fromEsm);
    expect(fromEsm).toMatchObject({ sameClass: true, errorName: 'HopperError' });
    const keys = isRecord(fromEsm) && isRecord(fromEsm.keys) ? fromEsm.keys : {};
    expect(keys.infra).toEqual(expect.arrayContaining(['HopperFunction', 'JobSystem', 'HOPPER_BUNDLING']));
    expect(keys.worker).toEqual(expect.arrayContaining(['createWorker', 'UnrecoverableJobError', 'RateLimitedError']));
    expect(keys.client).toEqual(expect.arrayContaining(['Client']));
    expect(keys['api-client']).toEqual(expect.arrayContaining(['ApiClient', 'JobDiscardedError']));
    expect(keys.errors).toEqual(expect.arrayContaining(['HopperError', 'isHopperError', 'UnrecoverableJobError']));
    expect(keys.local).toEqual(['startLocal']);
  }, 120_000);
});

/** Hopper's functions in a synthesized template: logical id prefix → prebuilt function name. */
const HOPPER_FUNCTION_IDS = { JobsRetryFunction: 'retry', JobsBatchFunction: 'batch', JobsSchedulerSweepFunction: 'scheduler', JobsApiFunction: 'api' } as const;

/** For each Hopper function of a synthesized stack: whether its asset is the prebuilt bundle, byte for byte. */
function prebuiltInAssembly(app: string, stack: string): Record<string, boolean> {
  const template: unknown = JSON.parse(readFileSync(join(app, 'cdk.out', `${stack}.template.json`), 'utf8'));
  const resources = isRecord(template) && isRecord(template.Resources) ? template.Resources : {};
  const found: Record<string, boolean> = {};
  for (const [logicalId, resource] of Object.entries(resources)) {
    const name = Object.entries(HOPPER_FUNCTION_IDS).find(([prefix]) => logicalId.startsWith(prefix))?.[1];
    if (name === undefined || !isRecord(resource) || resource.Type !== 'AWS::Lambda::Function') continue;
    const code = isRecord(resource.Properties) && isRecord(resource.Properties.Code) ? resource.Properties.Code : {};
    const assetDir = join(app, 'cdk.out', `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
    found[name] = existsSync(join(assetDir, PREBUILT_FILE)) && sha256(join(assetDir, PREBUILT_FILE)) === sha256(join(ROOT, BUILT_FILES.functionsDir, name, PREBUILT_FILE));
  }
  return found;
}

describe('cdk synth', () => {
  it("synthesizes both apps, with Hopper's functions deployed from the bundles the package ships", async () => {
    const [esm, cjs] = await Promise.all([
      run(bin('cdk'), ['synth', '--quiet'], esmApp, QUIET_ENV),
      run(bin('cdk'), ['synth', '--quiet'], cjsApp, QUIET_ENV),
    ]);

    expect({ code: esm.code, stderr: esm.code === 0 ? '' : esm.stderr }).toEqual({ code: 0, stderr: '' });
    expect({ code: cjs.code, stderr: cjs.code === 0 ? '' : cjs.stderr }).toEqual({ code: 0, stderr: '' });
    const expected = { retry: true, batch: true, scheduler: true, api: true };
    expect(prebuiltInAssembly(esmApp, 'Orders')).toEqual(expected);
    expect(prebuiltInAssembly(cjsApp, 'CjsAppStack')).toEqual(expected);
  }, 600_000);
});

describe('the hopper binary', () => {
  it('prints its help from the built CLI in both apps', async () => {
    const [esm, cjs] = await Promise.all([run('npx', ['hopper', '--help'], esmApp, QUIET_ENV), run('npx', ['hopper', '--help'], cjsApp, QUIET_ENV)]);

    expect({ code: esm.code, first: esm.stdout.split('\n')[0] }).toEqual({ code: 0, first: 'Usage: hopper <command> [options]' });
    expect({ code: cjs.code, first: cjs.stdout.split('\n')[0] }).toEqual({ code: 0, first: 'Usage: hopper <command> [options]' });
  }, 120_000);
});

/** What `hopper dev --json` prints (the fields this test reads). */
interface DevSummary {
  readonly stack: string;
  readonly apiUrl: string;
  readonly endpoints: { readonly lambda: string };
  readonly outputs: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly pid: number;
}

function isDevSummary(value: unknown): value is DevSummary {
  return isRecord(value) && typeof value.stack === 'string' && typeof value.apiUrl === 'string' && typeof value.pid === 'number'
    && isRecord(value.endpoints) && isRecord(value.outputs) && isRecord(value.env);
}

describe('hopper dev in the ES module app', () => {
  let dev: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let summary: DevSummary;

  /** Waits for the worker's "receipt sent" log line of job `jid` (function output is on stderr). */
  async function receiptSent(jid: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of stderr.split('\n')) {
        const json = line.slice(line.indexOf('{'));
        if (!line.startsWith('[Worker') || !json.includes(jid)) continue;
        const parsed: unknown = JSON.parse(json);
        if (isRecord(parsed) && parsed.message === 'receipt sent' && parsed.jid === jid) return parsed;
      }
      if (Date.now() > deadline) throw new Error(`no "receipt sent" for ${jid} within ${timeoutMs} ms; hopper dev said:\n${stderr.slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  beforeAll(async () => {
    dev = spawn('npx', ['hopper', 'dev', '--json', '--json-logs'], { cwd: esmApp, env: QUIET_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    dev.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    dev.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => dev?.once('exit', resolve));
    const deadline = Date.now() + 300_000;
    while (!stdout.includes('\n')) {
      if (Date.now() > deadline) throw new Error(`hopper dev printed no summary in time:\n${stderr.slice(-4000)}`);
      const code = await Promise.race([exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 250))]);
      if (code !== 'running') throw new Error(`hopper dev exited ${String(code)}:\n${stderr.slice(-4000)}`);
    }
    const parsed: unknown = JSON.parse(stdout.slice(0, stdout.indexOf('\n')));
    if (!isDevSummary(parsed)) throw new Error(`unexpected hopper dev summary: ${stdout}`);
    summary = parsed;
  }, 320_000);

  afterAll(async () => {
    if (dev === undefined || dev.exitCode !== null) return;
    const exited = new Promise((resolve) => dev?.once('exit', resolve));
    // The hopper process itself (npx's grandchild) stops its emulators and function instances on SIGTERM.
    if (summary !== undefined) process.kill(summary.pid, 'SIGTERM');
    else dev.kill('SIGTERM');
    await exited;
  }, 60_000);

  it('starts the stack and prints one JSON object with the API and the AWS endpoints', () => {
    expect(summary.stack).toBe('Orders');
    expect(summary.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(summary.env).toMatchObject({ AWS_ENDPOINT_URL_SQS: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), AWS_ENDPOINT_URL_DYNAMODB: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
  });

  it("prints the Client's configuration as HOPPER_* variables in env", () => {
    expect(JSON.parse(summary.env.HOPPER_QUEUE_URLS ?? 'null')).toEqual(JSON.parse(summary.outputs.JobsQueueUrls ?? 'null'));
  });

  it('runs a job a script enqueued with the environment hopper dev printed', async () => {
    const enqueued = await run(bin('tsx'), ['scripts/enqueue.ts', 'SendReceipt', '["order-1","a@example.com"]'], esmApp, { ...QUIET_ENV, ...summary.env });
    expect({ code: enqueued.code, stderr: enqueued.stderr }).toEqual({ code: 0, stderr: '' });
    const jid = enqueued.stdout.trim();

    expect(await receiptSent(jid)).toMatchObject({ level: 'INFO', jobtype: 'SendReceipt', queue: 'default', orderId: 'order-1', email: 'a@example.com' });
  }, 120_000);

  it('runs a job that the producer Lambda, granted with grantEnqueue, enqueued', async () => {
    const lambda = new LambdaClient({ endpoint: summary.endpoints.lambda, region: summary.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: summary.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: summary.env.AWS_SECRET_ACCESS_KEY ?? '' } });
    const invoked = await lambda.send(new InvokeCommand({ FunctionName: summary.outputs.ProducerFunctionName, Payload: JSON.stringify({ orderId: 'order-7', email: 'b@example.com' }) }));
    const payload: unknown = JSON.parse(Buffer.from(invoked.Payload ?? new Uint8Array()).toString() || 'null');
    expect({ functionError: invoked.FunctionError, payload }).toEqual({ functionError: undefined, payload: { jid: expect.stringMatching(/^\S+$/) } });
    const jid = isRecord(payload) ? String(payload.jid) : '';

    expect(await receiptSent(jid)).toMatchObject({ jobtype: 'SendReceipt', orderId: 'order-7', email: 'b@example.com' });
  }, 120_000);

  it('puts a retry: 0 job whose handler throws CardDeclined in the dead set under that error name', async () => {
    const api = new ApiClient({ url: summary.apiUrl });
    const enqueued = await api.request('POST', '/v1/jobs', { jobtype: 'ChargeCard', args: ['order-2', 99_999], retry: 0 });
    expect(enqueued.status).toBe(202);
    const jid = isRecord(enqueued.body) ? String(enqueued.body.jid) : '';
    const deadline = Date.now() + 60_000;
    let entry: Record<string, unknown> | undefined;
    while (entry === undefined && Date.now() < deadline) {
      const listed = await api.request('GET', '/v1/dead?jobtype=ChargeCard');
      const entries = isRecord(listed.body) && Array.isArray(listed.body.entries) ? listed.body.entries.filter(isRecord) : [];
      entry = entries.find((candidate) => candidate.jid === jid);
      if (entry === undefined) await new Promise((resolve) => setTimeout(resolve, 500));
    }

    expect(entry).toMatchObject({ jid, jobtype: 'ChargeCard', retry_count: 0, error: { errtype: 'CardDeclined', message: 'card declined for order order-2' } });
  }, 120_000);
});
