import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hopperEntry } from '../../infra/hopper-package.js';
import { JobSystem } from '../../infra/job-system.js';
import { logicalIdOf } from './support.js';

/** An upper bound that only a bundle with the AWS SDK (or another large dependency) inlined exceeds. */
const MAX_BUNDLE_BYTES = 400_000;

describe.each([
  ['retry', (jobs: JobSystem) => jobs.retryFunction],
  // Made only for a queue with tiers: the stack below has one.
  ['governor', (jobs: JobSystem) => jobs.governor?.function],
] as const)('%s function bundle (prebuilt with esbuild, no Docker)', (name, functionOf) => {
  let outdir: string;
  let assetDir: string;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'hopper-bundle-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bundled');
    const jobs = new JobSystem(stack, 'Jobs', { queues: { email: { maxConcurrency: 4, tiers: { critical: { targetAge: Duration.seconds(5) }, bulk: { targetAge: Duration.hours(1) } } } } });
    const fn = functionOf(jobs);
    if (fn === undefined) throw new Error('the JobSystem made no such function');
    const assembly = app.synth();
    const template = assembly.getStackByName('Bundled').template;
    const functionId = logicalIdOf(stack, fn.functionArn);
    const s3Key: string = template.Resources[functionId].Properties.Code.S3Key;
    assetDir = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`);
  }, 120_000);

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('deploys the prebuilt bundle as the build made it', () => {
    expect(readFileSync(join(assetDir, 'index.mjs'), 'utf8')).toBe(readFileSync(hopperEntry(name), 'utf8'));
  });

  it('is an ES module with a handler export and a source map', () => {
    const bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');

    expect(bundle).toMatch(/export\s*\{[^}]*\bhandler\b[^}]*\}/);
    expect(existsSync(join(assetDir, 'index.mjs.map'))).toBe(true);
  });

  it('defines require for CommonJS code inlined into the ES module', () => {
    const bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');

    expect(bundle.startsWith("import { createRequire as __hopperCreateRequire } from 'node:module'; const require = __hopperCreateRequire(import.meta.url);")).toBe(true);
  });

  it('leaves the AWS SDK to the Lambda runtime', () => {
    const bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');

    expect(statSync(join(assetDir, 'index.mjs')).size).toBeLessThan(MAX_BUNDLE_BYTES);
    expect(bundle).not.toMatch(/class \w*SQSClient\b/);
  });
});

describe('cdk synth of the demo app (the CLI, offline)', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  let outdir: string;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'hopper-synth-'));
  });

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('synthesizes HopperDemo with its eight functions bundled and nothing for cdk-nag to report', async () => {
    await promisify(execFile)(join(root, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--output', outdir], {
      cwd: root,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
      timeout: 120_000,
    });

    const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, 'HopperDemo.template.json'), 'utf8')));
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    // The worker, and Hopper's configuration, retry, scheduler, scheduler helper, cron, batch and API functions (named by their descriptions).
    expect(functions.map((fn) => String(fn.Properties.Description).split(':')[0]).sort()).toEqual([
      'Hopper API', 'Hopper batch function', 'Hopper configuration', 'Hopper cron', 'Hopper demo worker', 'Hopper retry function', 'Hopper scheduler', 'Hopper scheduler helper',
    ]);
    const s3Keys = functions.map((fn) => String(fn.Properties.Code.S3Key));
    for (const s3Key of s3Keys) {
      const bundle = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'index.mjs');
      expect(statSync(bundle).size).toBeGreaterThan(0);
      expect(statSync(bundle).size).toBeLessThan(MAX_BUNDLE_BYTES);
    }
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((plugin: { violations: unknown[] }) => plugin.violations)).toEqual([]);
    expect(readdirSync(outdir)).toContain('manifest.json');
  }, 120_000);
});
