/**
 * The JobSystem's `middleware`: bundled once next to each of Hopper's functions that enqueue or
 * move jobs (not the configuration writer, not a team's worker), with the variable that makes them
 * load it (a worker is told it is declared); a missing module or one esbuild cannot bundle fails the synth with its path.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { MIDDLEWARE_BUNDLE, middlewareExport } from '../../lib/middleware/load.js';
import { HopperFunction } from '../../infra/hopper-function.js';
import { JobSystem } from '../../infra/job-system.js';
import { environmentOf, newWorker } from './support.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/handlers/middleware.ts', import.meta.url));

function synth(middleware: string) {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'hopper-mw-synth-')) });
  const stack = new Stack(app, 'Mw');
  const jobs = new JobSystem(stack, 'Jobs', { middleware, crons: [{ name: 'hourly', schedule: '0 * * * *', job: { jobtype: 'Record' } }] });
  const worker = newWorker(stack, 'Worker', Duration.seconds(10));
  jobs.addWorker(worker, { queues: ['default'] });
  return { app, stack, jobs, worker };
}

describe('JobSystem middleware', () => {
  it('gives each of Hopper\'s job-moving functions the bundled module and the variable that loads it', async () => {
    const { app, stack, jobs, worker } = synth(FIXTURE);
    const assembly = app.synth();
    const withMiddleware = [jobs.retryFunction, jobs.batchFunction, jobs.scheduler.sweepFunction, jobs.scheduler.sweepHelperFunction, jobs.scheduler.cronFunction, jobs.apiFunction];
    for (const fn of withMiddleware) {
      if (fn === undefined) throw new Error('a function is missing');
      expect(environmentOf(fn)[ENV.middleware]).toBe(MIDDLEWARE_BUNDLE.env);
    }
    // A worker imports the module itself; it is told the stack has one, to warn when it was made without.
    expect(environmentOf(worker)[ENV.middleware]).toBe(MIDDLEWARE_BUNDLE.declared);
    // The configuration writer and the worker are the two functions without the bundle.
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    const loading = functions.filter((resource) => JSON.stringify(resource.Properties?.Environment ?? {}).includes(`"${ENV.middleware}":"${MIDDLEWARE_BUNDLE.env}"`));
    expect([loading.length, functions.length]).toEqual([withMiddleware.length, withMiddleware.length + 2]);

    // Every asset of a function that loads it has middleware.mjs next to index.mjs, and it exports the fixture's declaration.
    const assetDirs = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.')).map((name) => join(assembly.directory, name));
    const bundled = assetDirs.filter((dir) => existsSync(join(dir, MIDDLEWARE_BUNDLE.file)));
    // The sweep and its helper run the same bundle: one asset for the two.
    expect(bundled).toHaveLength(withMiddleware.length - 1);
    for (const dir of bundled) expect(existsSync(join(dir, 'index.mjs'))).toBe(true);
    const first = bundled[0] ?? '';
    const module: unknown = await import(join(first, MIDDLEWARE_BUNDLE.file));
    const loaded = middlewareExport(module, first);
    expect(loaded.client).toHaveLength(1);
    expect(Object.keys(loaded.hooks ?? {}).sort()).toEqual(['onBatchSettled', 'onDead', 'onExpired', 'onRetry']);
    // Small: the chain, not Hopper's worker.
    expect(readFileSync(join(first, MIDDLEWARE_BUNDLE.file)).byteLength).toBeLessThan(20 * 1024);
  });

  it('fails the synth on a module that is missing or does not bundle, naming it', () => {
    expect(() => synth('src/no-such-middleware.ts')).toThrow(new ConfigurationError(`middleware: src/no-such-middleware.ts does not exist (resolved to ${join(process.cwd(), 'src/no-such-middleware.ts')}); give the path of the module that exports defineMiddleware({ … })`));
    const broken = join(mkdtempSync(join(tmpdir(), 'hopper-mw-broken-')), 'middleware.ts');
    writeFileSync(broken, "import { nothing } from './nowhere.js';\nexport default nothing;\n");
    expect(() => synth(broken).app.synth()).toThrow(/^middleware: esbuild could not bundle .*middleware\.ts: .*nowhere/s);
  });

  it('is for Hopper\'s prebuilt functions only: a worker imports its middleware itself', () => {
    const stack = new Stack(new App(), 'Worker');
    expect(() => new HopperFunction(stack, 'Worker', { entry: fileURLToPath(new URL('../fixtures/handlers/middleware-worker.ts', import.meta.url)), middleware: {} as never }))
      .toThrow("Worker/Worker: middleware is for Hopper's prebuilt functions; a worker passes its middleware to createWorker({ middleware })");
  });
});
