/**
 * Hopper's errors: all in lib/errors, each named by a literal (a minified bundle keeps the names),
 * and a job's failure recorded under its class's name, as Sidekiq records it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as errors from '../../lib/errors/index.js';
import { describeError } from '../../lib/job/model.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One instance of every error class `hopper-jobs/errors` exports, by export name. */
const INSTANCES: Readonly<Record<string, Error>> = {
  HopperError: new errors.HopperError('x'),
  InvalidJobError: new errors.InvalidJobError('args', 'a JSON array'),
  UnrecoverableJobError: new errors.UnrecoverableJobError('x'),
  RateLimitedError: new errors.RateLimitedError('stripe', 3),
  ConfigurationError: new errors.ConfigurationError('x'),
  PayloadTooLargeError: new errors.PayloadTooLargeError('the job', 300_000, 262_144),
  InvalidEntryIdError: new errors.InvalidEntryIdError('nope'),
  ApiError: new errors.ApiError(404, 'not_found', 'x'),
  JobDiscardedError: new errors.JobDiscardedError(errors.DISCARD_REASONS.maxAge, 'request', 1, 'x'),
  LimiterUnavailableError: new errors.LimiterUnavailableError('geocoder', 5, { cause: new Error('ProvisionedThroughputExceededException') }),
  MappingBusyError: new errors.MappingBusyError('a0b1c2d3-0000-4000-8000-000000000000', 5),
  QueryTranslationError: new errors.QueryTranslationError('action "Frobnicate" is not an SQS action'),
  ApiResponseError: new errors.ApiResponseError(400, 'bad_parameter', 'x', {}),
  BatchNotFoundError: new errors.BatchNotFoundError('b1'),
  BatchFinishedError: new errors.BatchFinishedError('b1'),
  BatchContentionError: new errors.BatchContentionError('b1', 5),
  CronExpressionError: new errors.CronExpressionError('x'),
  CronDefinitionError: new errors.CronDefinitionError('schedule', 'x'),
  InvalidCronEventError: new errors.InvalidCronEventError('name', 'x'),
  CronTickBusyError: new errors.CronTickBusyError('nightly', '2026-11-22T12:00:00Z'),
  EnqueueError: new errors.EnqueueError([], [{ jid: 'j1', reason: 'x' }]),
  InvalidLimiterSpecError: new errors.InvalidLimiterSpecError('stripe', 'limit', 'a positive integer', '0'),
  InvalidTenantCapError: new errors.InvalidTenantCapError('body.concurrency', 'an integer from 1 to 1000', '0'),
  InvalidFlowError: new errors.InvalidFlowError('steps.parse.after', 'names of steps of the flow', '"fetch2"'),
  FlowNotFoundError: new errors.FlowNotFoundError('import-42'),
  FlowNotRetryableError: new errors.FlowNotRetryableError('import-42', 'running'),
  SynthError: new errors.SynthError('x', 'output'),
  TemplateError: new errors.TemplateError('Queue', 'AWS::SQS::Queue', 'x'),
  IntrinsicError: new errors.IntrinsicError('Properties.QueueName', 'x'),
  ScheduleExpressionError: new errors.ScheduleExpressionError('x'),
  NotUniqueError: new errors.NotUniqueError('j2', 'j1'),
  JobResultError: new errors.JobResultError('j1', 'running', 'it was still running when the wait ended'),
  OnceStepBusyError: new errors.OnceStepBusyError('charge', 12),
  OnceStepError: new errors.OnceStepError('charge', 'it ran, but its value is not JSON'),
  UnknownJobTypeError: new errors.UnknownJobTypeError('Nope', ['Greet']),
  InvalidJobArgsError: new errors.InvalidJobArgsError('Greet', ['args[0]: expected a string']),
  ReservationError: new errors.ReservationError('x'),
  IterationBusyError: new errors.IterationBusyError('j1', 30),
  IterationLostError: new errors.IterationLostError('j1'),
  MiddlewareError: new errors.MiddlewareError('stamp (client[0])', 'retry', 'threw Error: x'),
  InvalidMiddlewareError: new errors.InvalidMiddlewareError('x'),
  IterationError: new errors.IterationError('items yielded an undefined cursor'),
  IterationSignal: new errors.IterationSignal('continue', 3, 'the slice ended before the invocation\'s deadline'),
};

function isClass(value: unknown): value is new (...args: never[]) => unknown {
  return typeof value === 'function' && value.prototype instanceof Error;
}

describe('hopper-jobs/errors', () => {
  it('exports every error class, each named by a literal of its own', () => {
    const exported = Object.entries(errors).filter(([, value]) => isClass(value));

    expect(exported.map(([name]) => name).sort()).toEqual(Object.keys(INSTANCES).sort());
    for (const [name, value] of exported) {
      expect({ name, literal: Object.hasOwn(value, 'errorName') ? Reflect.get(value, 'errorName') : undefined }).toEqual({ name, literal: name });
      expect(INSTANCES[name]?.name).toBe(name);
    }
  });

  it('leaves no error class outside lib/errors in lib/ and local/', () => {
    const sources = (dir: string): string[] => readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => join(dir, file));
    const defining = [...sources('lib'), ...sources('local')]
      .filter((file) => !file.startsWith(join('lib', 'errors')))
      .filter((file) => /^\s*(export\s+)?class\s+\w+\s+extends\s+\w*Error\b/m.test(readFileSync(join(ROOT, file), 'utf8')));

    expect(defining).toEqual([]);
  });

  it('lib/errors imports nothing outside lib/errors', () => {
    const imports = readdirSync(join(ROOT, 'lib/errors'))
      .flatMap((file) => [...readFileSync(join(ROOT, 'lib/errors', file), 'utf8').matchAll(/from '([^']+)'/g)].map((match) => match[1]))
      .filter((specifier) => specifier !== undefined && !/^\.\/[a-z-]+\.js$/.test(specifier));

    expect(imports).toEqual([]);
  });

  it('names a subclass a team writes by its class, and an anonymous one by its nearest Hopper class', () => {
    class CardDeclined extends errors.UnrecoverableJobError {}
    // Not assigned to a name: the class really has none.
    const [Anonymous] = [class extends errors.RateLimitedError {}];

    expect(new CardDeclined('declined').name).toBe('CardDeclined');
    expect(new Anonymous('stripe', 1).name).toBe('RateLimitedError');
  });
});

describe('describeError names the class, as Sidekiq does', () => {
  class CardDeclined extends Error {}
  class PaymentError extends Error {
    constructor(message: string) {
      super(message);
      this.name = 'PaymentFailed';
    }
  }
  class NamedOnPrototype extends Error {
    override get name(): string {
      return 'GatewayTimeout';
    }
  }
  class Declined extends errors.UnrecoverableJobError {}
  class LateCharge extends CardDeclined {}

  it.each([
    { thrown: 'a class that never sets name', error: new CardDeclined('card 42 declined'), errtype: 'CardDeclined' },
    { thrown: 'a subclass of such a class', error: new LateCharge('late'), errtype: 'LateCharge' },
    { thrown: 'a class that sets name in its constructor', error: new PaymentError('no funds'), errtype: 'PaymentFailed' },
    { thrown: 'a class whose prototype names it', error: new NamedOnPrototype('slow'), errtype: 'GatewayTimeout' },
    { thrown: "a team's subclass of a Hopper error", error: new Declined('card 42 declined'), errtype: 'Declined' },
    { thrown: 'a Hopper error', error: new errors.UnknownJobTypeError('Nope', []), errtype: 'UnknownJobTypeError' },
    { thrown: 'a plain Error', error: new Error('boom'), errtype: 'Error' },
    { thrown: 'a built-in subclass', error: new TypeError('x is not a function'), errtype: 'TypeError' },
  ])('$thrown: $errtype', ({ error, errtype }) => {
    expect(describeError(error).errtype).toBe(errtype);
  });

  it('records a thrown non-Error as Error with its JSON as the message', () => {
    expect(describeError('card declined')).toEqual({ errtype: 'Error', message: 'card declined', backtrace: [] });
    expect(describeError({ code: 7 })).toEqual({ errtype: 'Error', message: '{"code":7}', backtrace: [] });
  });
});

describe('a minified worker bundle', () => {
  /** Bundles a probe that throws errors and prints their errtypes, with esbuild, and runs it. */
  async function errtypesWhenBundled(keepNames: boolean): Promise<{ errtypes: string[]; delay: unknown }> {
    const dir = mkdtempSync(join(tmpdir(), 'hopper-minified-'));
    try {
      const entry = join(dir, 'probe.ts');
      writeFileSync(entry, [
        `import { RateLimitedError, UnknownJobTypeError, UnrecoverableJobError, rateLimitedDelay } from ${JSON.stringify(`${ROOT}lib/errors/index.ts`)};`,
        `import { describeError } from ${JSON.stringify(`${ROOT}lib/job/model.ts`)};`,
        'class CardDeclined extends Error {}',
        'class Declined extends UnrecoverableJobError {}',
        'const thrown = [new UnknownJobTypeError("Nope", []), new RateLimitedError("stripe", 3), new CardDeclined("x"), new Declined("x")];',
        'console.log(JSON.stringify({ errtypes: thrown.map((error) => describeError(error).errtype), delay: rateLimitedDelay(thrown[1]) }));',
      ].join('\n'));
      const outfile = join(dir, 'probe.mjs');
      await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', minify: true, keepNames, outfile, logLevel: 'silent' });
      const printed: unknown = JSON.parse(execFileSync(process.execPath, [outfile], { encoding: 'utf8' }));
      const errtypes: unknown = Reflect.get(Object(printed), 'errtypes');
      return { errtypes: Array.isArray(errtypes) ? errtypes.map(String) : [], delay: Reflect.get(Object(printed), 'delay') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("keeps Hopper's error names without keepNames; a team's own classes need keepNames (or a name)", async () => {
    const minified = await errtypesWhenBundled(false);
    const kept = await errtypesWhenBundled(true);

    // Hopper's own names survive; the team's classes get whatever the minifier called them.
    expect(minified.errtypes.slice(0, 2)).toEqual(['UnknownJobTypeError', 'RateLimitedError']);
    expect(minified.delay).toBe(3);
    expect(minified.errtypes.slice(2)).not.toContain('CardDeclined');
    expect(minified.errtypes.slice(2)).not.toContain('Declined');
    expect(kept).toEqual({ errtypes: ['UnknownJobTypeError', 'RateLimitedError', 'CardDeclined', 'Declined'], delay: 3 });
  });
});
