import { describe, expect, it } from 'vitest';
import { checkInvariants, type BatchCounts, type Observed, type PlannedBatch, type PlannedJob } from '../chaos/invariants.js';

const jobs: PlannedJob[] = [
  { jid: 'a', kind: 'batch', expected: 'succeeded' },
  { jid: 'b', kind: 'batch', expected: 'succeeded' },
  { jid: 'c', kind: 'batch', expected: 'dead' },
];
const batch: PlannedBatch = { bid: 'b1', events: ['complete'], jobs: jobs.map(({ jid }) => ({ jid })) };

function observed(counts: BatchCounts | undefined): Observed {
  return {
    sink: [{ jid: 'a', attempt: 1, step: 'ran' }, { jid: 'b', attempt: 1, step: 'ran' }, { jid: 'b1-complete', callback: { bid: 'b1', event: 'complete' } }],
    dead: [{ jid: 'c', reason: { errtype: 'Error', message: 'planned' } }],
    waiting: [],
    batchCounts: new Map(counts === undefined ? [] : [['b1', counts]]),
  };
}

describe('the chaos checker on batch counters', () => {
  it('accepts counters that count each job once: the dead one as a failure and dead, the others succeeded', () => {
    const report = checkInvariants(jobs, [batch], observed({ total: 3, pending: 0, succeeded: 2, failures: 1, dead: 1 }));

    expect(report.miscounted).toEqual([]);
    expect(report.callbacks).toMatchObject({ expected: 1, fired: 1, doubled: [], missing: [] });
  });

  it('reports a batch counted twice, one still pending, or one whose item is gone', () => {
    const doubled = { total: 3, pending: -1, succeeded: 3, failures: 1, dead: 1 };
    const pending = { total: 3, pending: 1, succeeded: 1, failures: 1, dead: 1 };
    const expected = { total: 3, pending: 0, succeeded: 2, failures: 1, dead: 1 };

    expect(checkInvariants(jobs, [batch], observed(doubled)).miscounted).toEqual([{ bid: 'b1', expected, found: doubled }]);
    expect(checkInvariants(jobs, [batch], observed(pending)).miscounted).toEqual([{ bid: 'b1', expected, found: pending }]);
    expect(checkInvariants(jobs, [batch], observed(undefined)).miscounted).toEqual([{ bid: 'b1', expected, found: null }]);
  });
});
