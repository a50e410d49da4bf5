import { describe, expect, it } from 'vitest';
import { checkFlows, type FlowEnd, type FlowObserved, type FlowSinkLine } from '../chaos/flow-invariants.js';
import type { ChaosFlow } from '../chaos/flow-plan.js';

/** a → b (spawns one job) → c; b dies on `fail` edges when `dying`. */
function plannedFlow(dying: boolean): ChaosFlow {
  return {
    id: 'f',
    steps: [
      { name: 'a', parents: [], attempts: ['ok'], spawn: [] },
      { name: 'b', parents: ['a'], attempts: dying ? ['fatal'] : ['ok'], spawn: dying ? [] : [['ok']] },
      { name: 'c', parents: ['b'], attempts: ['ok'], spawn: [] },
    ],
    ...(dying ? { dying: { step: 'b', policy: 'fail' } } : {}),
    expected: dying ? 'failed' : 'succeeded',
  };
}

const ok = (jid: string, bid: string): FlowSinkLine => ({ jid, step: 'ok', bid });
const start = (jid: string): FlowSinkLine => ({ jid, start: 1 });
/** A run in order: a, then b and what it spawned, then c. */
const inOrder: FlowSinkLine[] = [start('f.a.1'), ok('f.a.1', 'f.a.1'), start('f.b.1'), ok('f.b.1-1', 'f.b.1'), ok('f.b.1', 'f.b.1'), start('f.c.1'), ok('f.c.1', 'f.c.1')];
const counts = (jobs: number, dead = 0) => ({ total: jobs, pending: 0, succeeded: jobs - dead, failures: dead, dead });
const succeeded: FlowEnd = { status: 'succeeded', settled: true, steps: ['a', 'b', 'c'].map((name) => ({ name, status: 'succeeded', attempt: 1 })) };

function observed(sink: readonly FlowSinkLine[], end: FlowEnd = succeeded, batches = new Map([['f.a.1', counts(1)], ['f.b.1', counts(2)], ['f.c.1', counts(1)]]), dead: readonly string[] = []): FlowObserved {
  return { sink, flows: new Map([['f', end]]), batchCounts: batches, deadJids: new Set(dead) };
}

describe('the chaos checker on flows', () => {
  it('accepts steps started once each, after their parents and what the parents spawned', () => {
    const report = checkFlows([plannedFlow(false)], observed(inOrder));

    expect(report).toEqual({ flows: 1, steps: 3, stepsRun: 3, spawnedRun: 1, cancelled: 0, stepDuplicateRuns: 0, violations: [] });
  });

  it('reports a step started before a job its parent spawned ended, and a second attempt', () => {
    const early: FlowSinkLine[] = [start('f.a.1'), ok('f.a.1', 'f.a.1'), start('f.b.1'), ok('f.b.1', 'f.b.1'), start('f.c.1'), ok('f.b.1-1', 'f.b.1'), ok('f.c.1', 'f.c.1'), start('f.c.2')];

    expect(checkFlows([plannedFlow(false)], observed(early)).violations).toEqual(['f.c: a second attempt ran', 'f.c: started before f.b.1-1 (of its parent b) succeeded']);
  });

  it('reports a step counted twice by its batch, and one whose spawned job never ran', () => {
    const withoutSpawned = inOrder.filter((line) => line.jid !== 'f.b.1-1');
    const batches = new Map([['f.a.1', counts(2)], ['f.b.1', counts(2)], ['f.c.1', counts(1)]]);

    expect(checkFlows([plannedFlow(false)], observed(withoutSpawned, succeeded, batches)).violations).toEqual([
      'f.a: batch counted {"total":2,"pending":0,"succeeded":2,"failures":0,"dead":0}, expected {"total":1,"pending":0,"succeeded":1,"failures":0,"dead":0}',
      'f.b: 0 spawned jobs ran, expected 1',
    ]);
  });

  it('accepts a failed flow whose dead step cancelled its dependant, and reports a cancelled step that ran', () => {
    const end: FlowEnd = { status: 'failed', settled: true, failedStep: 'b', steps: [{ name: 'a', status: 'succeeded', attempt: 1 }, { name: 'b', status: 'failed', attempt: 1 }, { name: 'c', status: 'cancelled', attempt: 0 }] };
    const batches = new Map([['f.a.1', counts(1)], ['f.b.1', counts(1, 1)]]);
    const sink = [start('f.a.1'), ok('f.a.1', 'f.a.1'), start('f.b.1')];

    expect(checkFlows([plannedFlow(true)], observed(sink, end, batches, ['f.b.1']))).toMatchObject({ stepsRun: 1, cancelled: 1, violations: [] });
    expect(checkFlows([plannedFlow(true)], observed([...sink, start('f.c.1')], end, batches, ['f.b.1'])).violations).toEqual(['f.c: cancelled, yet its job started']);
  });
});
