/**
 * CloudFormation's own linter on the templates Hopper synthesizes (issue 16): the demo, a JobSystem
 * with every feature switched on, one of 200 queues and 100 crons in nested stacks, and the fixture
 * stacks the local-runtime tests deploy (each with its nested stacks). cfn-lint
 * knows each resource type's schema, value ranges and cross-property rules, which the CDK's types do
 * not all check. No error may remain; the warnings left are explained in docs/decisions.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, NestedStack, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoStack } from '../../infra/demo-stack.js';
import { HopperFunction } from '../../infra/hopper-function.js';
import { JobSystem } from '../../infra/job-system.js';
import type { QueueOptions } from '../../infra/job-system-props.js';
import { ApiFixtureStack } from '../fixtures/stacks/api-stack.js';
import { ChaosFixtureStack } from '../fixtures/stacks/chaos-stack.js';
import { EventsFixtureStack } from '../fixtures/stacks/events-stack.js';
import { MiddlewareFixtureStack } from '../fixtures/stacks/middleware-stack.js';
import { PromisesFixtureStack } from '../fixtures/stacks/promises-stack.js';
import { SqsFixtureStack } from '../fixtures/stacks/sqs-stack.js';
import { newWorker } from './support.js';

/**
 * Rules left out, each explained in docs/decisions.md ("cfn-lint on every template"): W3005, a
 * `DependsOn` on a role the function already references (the CDK adds it on purpose, so that the
 * role's policy exists before the function is created).
 */
const IGNORED: readonly string[] = ['W3005'];

/**
 * The linter: `cfn-lint` on PATH, else the one a pyenv Python installed (this kind of machine has it
 * there; a shell without pyenv's shims on PATH would not find it).
 */
function cfnLint(): string {
  if (spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0) return 'cfn-lint';
  const versions = join(homedir(), '.pyenv', 'versions');
  const found = existsSync(versions) ? readdirSync(versions).map((version) => join(versions, version, 'bin', 'cfn-lint')).find((path) => existsSync(path)) : undefined;
  if (found === undefined) throw new Error('cfn-lint is not installed (neither on PATH nor in a pyenv Python); it comes with Python on this kind of machine');
  return found;
}
const CFN_LINT = cfnLint();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hopper-cfn-lint-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function newApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/** A JobSystem with every feature on: 12 queues in two workers, 8 crons, quotas, tenants, backlog limits, alarm actions, a producer. */
/** The "everything" stack's queue options: q0 capped with backlog limits, q1 in three priority tiers. */
function queueOptions(index: number): QueueOptions {
  if (index === 0) return { maxConcurrency: 3, maxBacklog: 1000, maxLatency: Duration.minutes(5) };
  if (index === 1) return { maxConcurrency: 12, tiers: { critical: { targetAge: Duration.seconds(5) }, default: { targetAge: Duration.minutes(1) }, bulk: { targetAge: Duration.hours(1) } } };
  return {};
}

function everything(app: App): Stack {
  const stack = new Stack(app, 'Everything', { env: { region: 'eu-central-1' } });
  const queues = Object.fromEntries(Array.from({ length: 12 }, (_, index) => [`q${index}`, queueOptions(index)]));
  const jobs = new JobSystem(stack, 'Jobs', {
    queues,
    crons: Array.from({ length: 8 }, (_, index) => ({ name: `cron-${index}`, schedule: `${index} 4 * * *`, timezone: 'Europe/Vienna', job: { jobtype: 'Report', queue: 'q1', args: [index] } })),
    quotas: { default: { limit: 1000, per: 'minute' }, tenants: { acme: { limit: 100, per: 'second', burst: 200 } }, queues: { q2: { limit: 50, per: 'second' } } },
    tenants: { 'arn:aws:iam::123456789012:role/acme-producer': 'acme' },
  });
  jobs.addAlarmAction(new actions.SnsAction(new sns.Topic(stack, 'Pager', { enforceSSL: true })));
  const fast = new HopperFunction(stack, 'Fast', { entry: fileURLToPath(new URL('../../infra/demo/worker.ts', import.meta.url)), timeout: Duration.seconds(30) });
  jobs.addWorker(fast.function, { queues: Object.keys(queues).slice(0, 6), batchSize: 5 });
  jobs.addWorker(newWorker(stack, 'Slow', Duration.minutes(5)), { queues: Object.keys(queues).slice(6), maxBatchingWindow: Duration.seconds(10) });
  jobs.grantEnqueue(newWorker(stack, 'Producer'));
  return stack;
}

/**
 * The JobSystem of issue 16's scale: 200 queues (in nested stacks: one stack holds about 80) served
 * by one worker, 100 crons, a producer.
 */
function twoHundredQueues(app: App): Stack {
  const stack = new Stack(app, 'TwoHundred', { env: { region: 'eu-central-1' } });
  const queues = Object.fromEntries(Array.from({ length: 200 }, (_, index) => [`q${String(index).padStart(3, '0')}`, {}]));
  const jobs = new JobSystem(stack, 'Jobs', {
    queues,
    nestedStacks: true,
    crons: Array.from({ length: 100 }, (_, index) => ({ name: `report-${index}`, schedule: `${index % 60} ${index % 24} * * *`, timezone: 'Europe/Vienna', job: { jobtype: 'Report', queue: 'q000', args: [index] } })),
  });
  jobs.addWorker(newWorker(stack, 'Worker'), { queues: Object.keys(queues) });
  jobs.grantEnqueue(newWorker(stack, 'Producer'));
  return stack;
}

/** cfn-lint's findings on `templates` (one run for all), as `file:line: rule message` lines (none when clean). */
function lint(templates: readonly { name: string; template: unknown }[], ignored: readonly string[] = []): string[] {
  const paths = templates.map(({ name, template }) => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(template));
    return path;
  });
  const result = spawnSync(CFN_LINT, ['--format', 'parseable', ...[...IGNORED, ...ignored].flatMap((rule) => ['--ignore-checks', rule]), '--', ...paths], { encoding: 'utf8' });
  if (result.error !== undefined) throw new Error(`cfn-lint could not run (${result.error.message}); it is installed with Python on this kind of machine`);
  return result.stdout.split('\n').filter((line) => line.trim() !== '');
}

describe('cfn-lint', () => {
  it('is installed', () => {
    expect(execFileSync(CFN_LINT, ['--version'], { encoding: 'utf8' })).toMatch(/^cfn-lint \d+\.\d+/);
  });

  it.each([
    ['the demo stack', (app: App) => new DemoStack(app, 'HopperDemo', { env: { region: 'us-east-1' } })],
    ['a JobSystem with every feature on', everything],
    ['the API fixture', (app: App) => new ApiFixtureStack(app, 'ApiFixture')],
    ['the chaos fixture', (app: App) => new ChaosFixtureStack(app, 'ChaosFixture')],
    ['the events fixture', (app: App) => new EventsFixtureStack(app, 'EventsFixture')],
    ['the promises fixture', (app: App) => new PromisesFixtureStack(app, 'PromisesFixture')],
    ['the middleware fixture', (app: App) => new MiddlewareFixtureStack(app, 'MiddlewareFixture')],
    // Not Hopper's: it tests the local runtime's SQS, on purpose with visibility timeouts shorter
    // than its functions' timeouts (E3505), which the JobSystem itself refuses.
    ['the SQS fixture', (app: App) => new SqsFixtureStack(app, 'SqsFixture'), ['E3505']],
    ['a JobSystem of 200 queues and 100 crons', twoHundredQueues],
  ] as [string, (app: App) => Stack, string[]?][])('finds nothing in %s, nor in its nested stacks', (name, build, ignored) => {
    const stack = build(newApp());
    const nested = stack.node.findAll().filter((node): node is NestedStack => node instanceof NestedStack);
    const findings = lint([stack, ...nested].map((inner, index) => ({ name: `${stack.stackName}-${index}`, template: Template.fromStack(inner).toJSON() })), ignored);
    expect(findings).toEqual([]);
    // The API fixture and the large system are the ones laid out in nested stacks.
    if (name === 'the API fixture') expect(nested.length).toBe(6);
    if (name === 'a JobSystem of 200 queues and 100 crons') expect(nested.length).toBe(10);
    // Synthesizing and linting 11 templates of the large system takes about 30 s on a quiet 2-core
    // machine, and three times that while the next test file runs beside it.
  }, 180_000);
});
