/**
 * How a flow moves: steps start once their parents settled, each edge's failure policy decides what
 * a failed parent does, the flow settles once, and a retry starts again from the failed steps.
 */
import { describe, expect, it } from 'vitest';
import { compileFlow } from '../../lib/flow/compile.js';
import { flowEffects, retryFlow, settleStep, startFlow, type StepOutcome } from '../../lib/flow/engine.js';
import { job, type FailurePolicy, type FlowPlan, type FlowProgress, type StepStatus } from '../../lib/flow/model.js';
import { stepOutcome } from '../../lib/flow/stream.js';

const runtime = { queueUrls: { default: 'http://q/default' }, defaultRetry: 25 };
const t0 = new Date('2026-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

/** fetch → parse → index → notify, the last edge with `policy`. */
function pipeline(policy: FailurePolicy = 'fail'): FlowPlan {
  return compileFlow({
    id: 'f1',
    steps: {
      fetch: job('Fetch'),
      parse: job('Parse').after('fetch'),
      index: job('Index').after('parse'),
      notify: job('Notify').after(['index'], { onFailure: policy }),
    },
  }, runtime, t0).plan;
}

/** a → (b, c) → d, with the edges into d given. */
function diamond(bPolicy: FailurePolicy, cPolicy: FailurePolicy = 'fail'): FlowPlan {
  return compileFlow({
    id: 'f2',
    steps: { a: job('A'), b: job('B').after('a'), c: job('C').after('a'), d: job('D').after('b', { onFailure: bPolicy }).after('c', { onFailure: cPolicy }) },
  }, runtime, t0).plan;
}

function statuses(progress: FlowProgress): Record<string, StepStatus> {
  return Object.fromEntries(Object.entries(progress.steps).map(([name, state]) => [name, state.status]));
}

/** Settles `step` (its current attempt) and expects a change. */
function settle(plan: FlowPlan, progress: FlowProgress, step: string, outcome: StepOutcome, seconds: number): FlowProgress {
  const next = settleStep(plan, progress, step, progress.steps[step]?.attempt ?? 0, outcome, at(seconds));
  if (next === undefined) throw new Error(`settling ${step} changed nothing`);
  return next;
}

describe('a flow', () => {
  it('starts its roots, then each step once its parent succeeded, and succeeds once', () => {
    const plan = pipeline();
    let flow = startFlow(plan, t0);
    expect(statuses(flow)).toEqual({ fetch: 'started', parse: 'waiting', index: 'waiting', notify: 'waiting' });
    expect(flowEffects(undefined, flow)).toEqual({ start: [{ step: 'fetch', attempt: 1 }], events: [] });
    const started = flow;
    flow = settle(plan, flow, 'fetch', 'succeeded', 1);
    expect(statuses(flow)).toEqual({ fetch: 'succeeded', parse: 'started', index: 'waiting', notify: 'waiting' });
    expect(flowEffects(started, flow)).toEqual({ start: [{ step: 'parse', attempt: 1 }], events: [] });
    flow = settle(plan, flow, 'parse', 'succeeded', 2);
    flow = settle(plan, flow, 'index', 'succeeded', 3);
    const before = flow;
    flow = settle(plan, flow, 'notify', 'succeeded', 4);
    expect(flow.status).toBe('succeeded');
    expect(flow.finishedAt).toBe('2026-01-01T00:00:04.000Z');
    expect(flow.steps.parse).toEqual({ status: 'succeeded', attempt: 1, startedAt: '2026-01-01T00:00:01.000Z', endedAt: '2026-01-01T00:00:02.000Z' });
    expect(flowEffects(before, flow)).toEqual({ start: [], events: ['success', 'complete'] });
    // A repeated report changes nothing, so it writes nothing and fires nothing.
    expect(settleStep(plan, flow, 'notify', 1, 'succeeded', at(5))).toBeUndefined();
    expect(flowEffects(flow, flow)).toEqual({ start: [], events: [] });
  });

  it('starts a step after both parents, when the second settles', () => {
    const plan = diamond('fail');
    let flow = settle(plan, startFlow(plan, t0), 'a', 'succeeded', 1);
    expect(statuses(flow)).toEqual({ a: 'succeeded', b: 'started', c: 'started', d: 'waiting' });
    const afterB = settle(plan, flow, 'b', 'succeeded', 2);
    expect(flowEffects(flow, afterB).start).toEqual([]);
    flow = settle(plan, afterB, 'c', 'succeeded', 3);
    expect(flowEffects(afterB, flow).start).toEqual([{ step: 'd', attempt: 1 }]);
  });

  it('fails on a `fail` edge: nothing else starts, the running step finishes, then the rest is cancelled', () => {
    const plan = diamond('fail');
    let flow = settle(plan, startFlow(plan, t0), 'a', 'succeeded', 1);
    const beforeFailure = flow;
    flow = settle(plan, flow, 'b', 'failed', 2);
    expect(flow.status).toBe('failed');
    expect(flow.failedStep).toBe('b');
    expect(flow.finishedAt).toBeUndefined();
    expect(flowEffects(beforeFailure, flow)).toEqual({ start: [], events: [] });
    const beforeEnd = flow;
    flow = settle(plan, flow, 'c', 'succeeded', 3);
    expect(statuses(flow)).toEqual({ a: 'succeeded', b: 'failed', c: 'succeeded', d: 'cancelled' });
    expect(flowEffects(beforeEnd, flow)).toEqual({ start: [], events: ['failure', 'complete'] });
  });

  it.each([
    ['ignore', 'succeeded'],
    ['remove', 'succeeded'],
  ] as const)('with `%s`, a failed parent counts as settled and the flow can still succeed', (policy, outcome) => {
    const plan = diamond(policy);
    let flow = settle(plan, startFlow(plan, t0), 'a', 'succeeded', 1);
    flow = settle(plan, flow, 'b', 'failed', 2);
    expect(statuses(flow)).toEqual({ a: 'succeeded', b: 'failed', c: 'started', d: 'waiting' });
    flow = settle(plan, flow, 'c', 'succeeded', 3);
    expect(flow.steps.d?.status).toBe('started');
    flow = settle(plan, flow, 'd', 'succeeded', 4);
    expect(flow.status).toBe(outcome);
  });

  it('with `continue`, a failed parent starts the dependant at once, without waiting for its other parents', () => {
    const plan = diamond('continue');
    let flow = settle(plan, startFlow(plan, t0), 'a', 'succeeded', 1);
    flow = settle(plan, flow, 'b', 'failed', 2);
    expect(statuses(flow)).toEqual({ a: 'succeeded', b: 'failed', c: 'started', d: 'started' });
    // c settling later does not start d again.
    const before = flow;
    flow = settle(plan, flow, 'c', 'succeeded', 3);
    expect(flowEffects(before, flow).start).toEqual([]);
    flow = settle(plan, flow, 'd', 'succeeded', 4);
    expect(flow.status).toBe('succeeded');
  });

  it('fails when a step with no dependant fails', () => {
    const plan = pipeline('continue');
    let flow = startFlow(plan, t0);
    for (const [index, step] of ['fetch', 'parse', 'index'].entries()) flow = settle(plan, flow, step, 'succeeded', index + 1);
    flow = settle(plan, flow, 'notify', 'failed', 4);
    expect(flow.status).toBe('failed');
    expect(flow.failedStep).toBe('notify');
    expect(flow.finishedAt).toBe('2026-01-01T00:00:04.000Z');
  });

  it('retries from the failed step: a new attempt of it, the cancelled steps waiting again, the succeeded ones kept', () => {
    const plan = pipeline();
    let flow = settle(plan, startFlow(plan, t0), 'fetch', 'succeeded', 1);
    flow = settle(plan, flow, 'parse', 'failed', 2);
    expect(statuses(flow)).toEqual({ fetch: 'succeeded', parse: 'failed', index: 'cancelled', notify: 'cancelled' });
    expect(retryFlow(plan, { ...flow, status: 'running' }, at(3))).toBeUndefined();
    const failed = flow;
    const retried = retryFlow(plan, flow, at(10));
    if (retried === undefined) throw new Error('not retried');
    expect(statuses(retried)).toEqual({ fetch: 'succeeded', parse: 'started', index: 'waiting', notify: 'waiting' });
    expect(retried.retries).toBe(1);
    expect(retried.failedStep).toBeUndefined();
    expect(retried.finishedAt).toBeUndefined();
    expect(flowEffects(failed, retried)).toEqual({ start: [{ step: 'parse', attempt: 2 }], events: [] });
    // A late report of the first attempt changes nothing.
    expect(settleStep(plan, retried, 'parse', 1, 'succeeded', at(11))).toBeUndefined();
    flow = settle(plan, retried, 'parse', 'succeeded', 12);
    flow = settle(plan, flow, 'index', 'succeeded', 13);
    const before = flow;
    flow = settle(plan, flow, 'notify', 'succeeded', 14);
    expect(flowEffects(before, flow).events).toEqual(['success', 'complete']);
  });
});

describe('stepOutcome', () => {
  const counters = { total: 3, pending: 0, succeeded: 3, failures: 0, dead: 0, open: 0, children: 0, children_complete: 0, children_succeeded: 0, children_dead: 0 };
  it.each([
    ['every job succeeded', counters, 'succeeded'],
    ['a job failed and waits for a retry', { ...counters, succeeded: 2, failures: 1 }, undefined],
    ['a job is dead and the others ran', { ...counters, succeeded: 2, failures: 1, dead: 1 }, 'failed'],
    ['a job has not run yet', { ...counters, succeeded: 1, pending: 1, failures: 1, dead: 1 }, undefined],
    ['a spawn is still being added', { ...counters, open: 1 }, undefined],
    ['nothing was added yet', { ...counters, total: 0, succeeded: 0 }, undefined],
  ] as const)('%s: %s', (_name, values, expected) => {
    expect(stepOutcome(values)).toBe(expected);
  });
});
