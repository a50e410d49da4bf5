/**
 * The package test's scratch space: the packed tarball installed once, with a team's usual
 * dependencies, into a folder whose two apps (ES modules: a copy of examples/cdk-app; CommonJS: as
 * `cdk init app --language typescript` writes it) share that one `node_modules`.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What a finished command printed. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` in `cwd` and resolves when it exits, whatever its exit code. */
export function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like {@link run}, but throws with the output unless the command exits 0. */
export async function runOk(command: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Run> {
  const result = await run(command, args, cwd, env);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code} in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The environment of every command: no CDK version check, no SDK warning about Node 20. */
export const QUIET_ENV: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', FORCE_COLOR: '0' };

/** One file of `npm pack --json`. */
export interface PackedFile {
  readonly path: string;
  readonly size: number;
}

/** What `npm pack` made. */
export interface Packed {
  readonly tarball: string;
  readonly files: readonly PackedFile[];
  readonly size: number;
  readonly unpackedSize: number;
}

function isPackedFile(value: unknown): value is PackedFile {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'path') === 'string' && typeof Reflect.get(value, 'size') === 'number';
}

/** Packs the repository (its `prepack` builds what is stale) into `dir`. */
export async function pack(dir: string): Promise<Packed> {
  const { stdout } = await runOk('npm', ['pack', '--json', '--pack-destination', dir], ROOT, QUIET_ENV);
  const parsed: unknown = JSON.parse(stdout);
  const [result]: unknown[] = Array.isArray(parsed) ? parsed : [];
  if (typeof result !== 'object' || result === null) throw new Error(`npm pack printed no result: ${stdout}`);
  const files: unknown = Reflect.get(result, 'files');
  const filename: unknown = Reflect.get(result, 'filename');
  const size: unknown = Reflect.get(result, 'size');
  const unpackedSize: unknown = Reflect.get(result, 'unpackedSize');
  if (!Array.isArray(files) || typeof filename !== 'string' || typeof size !== 'number' || typeof unpackedSize !== 'number') throw new Error(`unexpected npm pack result: ${stdout}`);
  return { tarball: join(dir, filename), files: files.filter(isPackedFile), size, unpackedSize };
}

function devDependency(name: string): string {
  const packageJson: unknown = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const devDependencies: unknown = typeof packageJson === 'object' && packageJson !== null ? Reflect.get(packageJson, 'devDependencies') : undefined;
  const version: unknown = typeof devDependencies === 'object' && devDependencies !== null ? Reflect.get(devDependencies, name) : undefined;
  if (typeof version !== 'string') throw new Error(`package.json has no devDependency ${name}`);
  return version;
}

/**
 * What a team's CDK app has besides Hopper (the versions this repository pins), with TypeScript 5:
 * the compiler most existing apps use, and the one the declarations must satisfy.
 */
export function teamDependencies(): Record<string, string> {
  return {
    'aws-cdk-lib': devDependency('aws-cdk-lib'),
    constructs: devDependency('constructs'),
    'aws-cdk': devDependency('aws-cdk'),
    esbuild: devDependency('esbuild'),
    tsx: devDependency('tsx'),
    '@types/node': devDependency('@types/node'),
    typescript: '5.9.3',
  };
}

/** Installs the tarball and the team's dependencies into `dir/node_modules`. */
export async function install(dir: string, tarball: string): Promise<void> {
  const packageJson = { name: 'hopper-package-test', private: true, dependencies: { 'hopper-jobs': `file:${tarball}`, ...teamDependencies() } };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
  await runOk('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir, QUIET_ENV);
}

/** Links an app folder's `node_modules` to the shared one (`npx` looks in the app's own). */
function linkModules(app: string): void {
  symlinkSync('../node_modules', join(app, 'node_modules'), 'dir');
}

/** Copies examples/cdk-app into `dir/esm-app` and gives it a bundler-resolution tsconfig too. */
export function copyExample(dir: string): string {
  const app = join(dir, 'esm-app');
  const example = join(ROOT, 'examples', 'cdk-app');
  cpSync(example, app, { recursive: true, filter: (source) => !/\/(node_modules|cdk\.out|\.hopper)$/.test(source) });
  linkModules(app);
  writeFileSync(join(app, 'tsconfig.bundler.json'), `${JSON.stringify({ extends: './tsconfig.json', compilerOptions: { module: 'preserve', moduleResolution: 'bundler' } }, null, 2)}\n`);
  return app;
}

/** The CommonJS app's stack: a job system, a worker and a producer, written as in the README. */
const CJS_STACK = `import * as cdk from 'aws-cdk-lib/core';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { JobSystem } from 'hopper-jobs/infra';

export class CjsAppStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props?: cdk.StackProps) {
    super(scope, id, props);
    const jobs = new JobSystem(this, 'Jobs', { queues: { default: {} } });
    const worker = new NodejsFunction(this, 'Worker', { entry: 'src/worker.ts', timeout: cdk.Duration.seconds(30) });
    jobs.addWorker(worker, { queues: ['default'] });
    const producer = new NodejsFunction(this, 'Producer', { entry: 'src/producer.ts', timeout: cdk.Duration.seconds(10) });
    jobs.grantEnqueue(producer);
  }
}
`;

const CJS_WORKER = `import { createWorker } from 'hopper-jobs/worker';
import { UnrecoverableJobError } from 'hopper-jobs/errors';

export const handler = createWorker({
  jobs: {
    SendReceipt: async ([orderId], ctx) => {
      if (typeof orderId !== 'string') throw new UnrecoverableJobError('orderId must be a string');
      ctx.logger.info('receipt sent', { orderId });
    },
  },
});
`;

const CJS_PRODUCER = `import { Client } from 'hopper-jobs/client';

const client = new Client();

export const handler = async (event: { orderId: string }) => ({ jid: await client.enqueue({ jobtype: 'SendReceipt', args: [event.orderId] }) });
`;

/**
 * Makes `dir/cjs-app` with `cdk init app --language typescript --generate-only` (package.json
 * without "type", tsconfig NodeNext, run by tsx after tsc) and Hopper in its stack. The init's
 * jest test is removed, and `jest` from tsconfig's `types`, since no jest is installed.
 */
export async function initCommonJsApp(dir: string): Promise<string> {
  const app = join(dir, 'cjs-app');
  mkdirSync(app);
  await runOk(process.execPath, [join(dir, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'init', 'app', '--language', 'typescript', '--generate-only'], app, QUIET_ENV);
  linkModules(app);
  rmSync(join(app, 'test'), { recursive: true });
  rmSync(join(app, 'jest.config.js'));
  const tsconfig: unknown = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8'));
  const compilerOptions: unknown = typeof tsconfig === 'object' && tsconfig !== null ? Reflect.get(tsconfig, 'compilerOptions') : undefined;
  if (typeof compilerOptions !== 'object' || compilerOptions === null) throw new Error('cdk init wrote a tsconfig.json without compilerOptions');
  Reflect.set(compilerOptions, 'types', ['node']);
  writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  writeFileSync(join(app, 'lib', 'cjs-app-stack.ts'), CJS_STACK);
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src', 'worker.ts'), CJS_WORKER);
  writeFileSync(join(app, 'src', 'producer.ts'), CJS_PRODUCER);
  return app;
}
