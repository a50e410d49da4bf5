/** Flows are validated when submitted: each refusal names the step and field, and what was expected. */
import { describe, expect, it } from 'vitest';
import { InvalidFlowError } from '../../lib/errors/flow.js';
import { compileFlow, topologicalOrder } from '../../lib/flow/compile.js';
import { FLOW_LIMITS, job, type FlowDefinition } from '../../lib/flow/model.js';

const runtime = { queueUrls: { default: 'http://q/default', slow: 'http://q/slow' }, defaultRetry: 25 };
const now = new Date('2026-01-01T00:00:00.000Z');

function refusal(definition: FlowDefinition): { field: string; message: string } {
  try {
    compileFlow(definition, runtime, now);
  } catch (error) {
    if (error instanceof InvalidFlowError) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error('the flow was accepted');
}

describe('compileFlow', () => {
  it('orders steps parents first and keeps each edge with its policy', () => {
    const { id, plan } = compileFlow({
      id: 'import-1',
      steps: {
        notify: job('Notify').after(['index'], { onFailure: 'continue' }),
        index: job('Index', [], { queue: 'slow' }).after('parse'),
        parse: job('Parse').after('fetch'),
        fetch: job('Fetch', ['https://example.com/a.csv']),
      },
    }, runtime, now);
    expect(id).toBe('import-1');
    expect(plan.order).toEqual(['fetch', 'parse', 'index', 'notify']);
    expect(plan.steps.notify?.parents).toEqual([{ step: 'index', onFailure: 'continue' }]);
    expect(plan.steps.parse?.parents).toEqual([{ step: 'fetch', onFailure: 'fail' }]);
    expect(plan.steps.fetch?.job).toEqual({ jobtype: 'Fetch', args: ['https://example.com/a.csv'] });
    expect(plan.steps.index?.job.queue).toBe('slow');
  });

  it('accumulates parents over chained after calls', () => {
    const { plan } = compileFlow({ steps: { a: job('A'), b: job('B'), c: job('C').after('a').after('b', { onFailure: 'ignore' }) } }, runtime, now);
    expect(plan.steps.c?.parents).toEqual([{ step: 'a', onFailure: 'fail' }, { step: 'b', onFailure: 'ignore' }]);
    expect(plan.order).toEqual(['a', 'b', 'c']);
  });

  it.each([
    ['an unknown parent', { steps: { fetch: job('Fetch'), parse: job('Parse').after('fetsh') } }, 'steps.parse.after', 'invalid flow: steps.parse.after must be steps of this flow (fetch, parse), but "fetsh" was provided'],
    ['a step after itself', { steps: { a: job('A').after('a') } }, 'steps.a.after', 'invalid flow: steps.a.after must be other steps than the step itself, but "a" was provided'],
    ['a parent named twice', { steps: { a: job('A'), b: job('B').after(['a', 'a']) } }, 'steps.b.after', 'invalid flow: steps.b.after must be each parent once, but "a" twice was provided'],
    ['a cycle', { steps: { fetch: job('Fetch'), parse: job('Parse').after(['fetch', 'index']), index: job('Index').after('parse') } }, 'steps.index.after', 'invalid flow: steps.index.after must be steps that do not lead back to it (no cycle), but a cycle index → parse → index was provided'],
    ['no step', { steps: {} }, 'steps', 'invalid flow: steps must be at least one step, but none was provided'],
    ['a bad step name', { steps: { 'a.b': job('A') } }, 'steps.a.b', 'invalid flow: steps.a.b must be a step name of 1 to 40 letters, digits, _ or -, but "a.b" was provided'],
    ['an undeclared queue', { steps: { a: job('A', [], { queue: 'fast' }) } }, 'steps.a.queue', 'invalid flow: steps.a.queue must be one of the declared queues (default, slow), but "fast" was provided'],
    ['a step with a time', { steps: { a: job('A', [], { at: '2026-01-02T00:00:00.000Z' }) } }, 'steps.a.at', 'invalid flow: steps.a.at must be absent: a step starts when its parents have settled, but 2026-01-02T00:00:00.000Z was provided'],
    ['a unique step', { steps: { a: job('A', [], { custom: { unique_for: 60 } }) } }, 'steps.a.custom.unique_for', 'invalid flow: steps.a.custom.unique_for must be absent in a flow step, but 60 was provided'],
    ['a bad policy', { steps: { a: job('A'), b: job('B').after('a', { onFailure: 'retry' as 'fail' }) } }, 'steps.b.after.onFailure', 'invalid flow: steps.b.after.onFailure must be one of fail, ignore, continue, remove, but "retry" was provided'],
    ['a bad callback', { steps: { a: job('A') }, onSuccess: { jobtype: '' } }, 'onSuccess.jobtype', 'invalid flow: onSuccess.jobtype must be a string of 1 to 256 characters, but "" was provided'],
    ['a bad id', { id: 'a.b', steps: { a: job('A') } }, 'id', 'invalid flow: id must be 1 to 40 letters, digits, _ or -, but "a.b" was provided'],
  ] as const)('refuses %s, naming the field', (_name, definition, field, message) => {
    expect(refusal(definition)).toEqual({ field, message });
  });

  it(`refuses more than ${FLOW_LIMITS.maxSteps} steps`, () => {
    const steps = Object.fromEntries(Array.from({ length: FLOW_LIMITS.maxSteps + 1 }, (_, index) => [`s${index}`, job('S')]));
    expect(refusal({ steps })).toEqual({ field: 'steps', message: `invalid flow: steps must be at most ${FLOW_LIMITS.maxSteps} steps, but ${FLOW_LIMITS.maxSteps + 1} was provided` });
  });

  it('refuses a plan over its byte limit', () => {
    const big = 'x'.repeat(200_000);
    const { field, message } = refusal({ steps: { a: job('A', [big]), b: job('B', [big]) } });
    expect(field).toBe('steps');
    expect(message).toMatch(/^invalid flow: steps must be at most 262144 bytes of steps and callbacks as JSON, but 4\d{5} bytes was provided$/);
  });

  it('gives a random id in the flow id alphabet when none is given', () => {
    const { id } = compileFlow({ steps: { a: job('A') } }, runtime, now);
    expect(id).toMatch(FLOW_LIMITS.flowIdPattern);
    expect(compileFlow({ steps: { a: job('A') } }, runtime, now).id).not.toBe(id);
  });

  it('orders a diamond with the steps ready at once in declaration order', () => {
    const order = topologicalOrder({
      d: { job: { jobtype: 'D' }, parents: [{ step: 'b', onFailure: 'fail' }, { step: 'c', onFailure: 'fail' }] },
      c: { job: { jobtype: 'C' }, parents: [{ step: 'a', onFailure: 'fail' }] },
      b: { job: { jobtype: 'B' }, parents: [{ step: 'a', onFailure: 'fail' }] },
      a: { job: { jobtype: 'A' }, parents: [] },
    });
    expect(order).toEqual(['a', 'c', 'b', 'd']);
  });
});
