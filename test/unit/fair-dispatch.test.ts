/** The local model of Amazon SQS fair queues: which ready messages a receive returns, in which order. */
import { describe, expect, it } from 'vitest';
import { FAIR_QUEUE_RULE, FairDispatch, type GroupedMessage } from '../../local/sqs/fair-dispatch.js';

const T0 = 1_800_000_000_000;

/** `n` messages of `group` (undefined: messages without a group). */
function of(group: string | undefined, n: number): GroupedMessage[] {
  return Array.from({ length: n }, () => ({ groupId: group }));
}

/** The groups of the picked messages, in delivery order. */
function groupsOf(ready: readonly GroupedMessage[], picks: readonly number[] | undefined): (string | undefined)[] | undefined {
  return picks?.map((index) => ready[index]?.groupId);
}

function sentNow(fair: FairDispatch, ...groups: string[]): void {
  for (const group of groups) fair.sent(group, T0);
}

describe('FairDispatch.select', () => {
  it('is off (undefined) when no message, ready or in flight, has a group', () => {
    expect(new FairDispatch().select(of(undefined, 5), of(undefined, 40), 10, T0)).toBeUndefined();
  });

  it('serves in queue order while no group is noisy (29 in flight is under the 30 of the rule)', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    const ready = [...of('A', 3), ...of('B', 2)];

    expect(fair.select(ready, of('A', 29), 4, T0)).toEqual([0, 1, 2, 3]);
    expect(fair.noisyGroups()).toEqual([]);
  });

  it('serves quiet groups first once a group has at least 30 in flight and more than 10% of them', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    const ready = [...of('A', 5), ...of('B', 2), ...of('A', 1), ...of(undefined, 1)];

    const picks = fair.select(ready, of('A', 30), 5, T0);

    expect(picks).toEqual([5, 6, 8, 0, 1]);
    expect(groupsOf(ready, picks)).toEqual(['B', 'B', undefined, 'A', 'A']);
    expect(fair.noisyGroups()).toEqual(['A']);
  });

  it('does not mark a group holding 10% or less of the in-flight messages, whatever its count', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    const ready = [...of('B', 1), ...of('A', 2)];

    // A: 30 of 300 in flight is exactly 10%, not more; B, with 270, is noisy and served after A.
    expect(fair.select(ready, [...of('A', 30), ...of('B', 270)], 3, T0)).toEqual([1, 2, 0]);
    expect(fair.noisyGroups()).toEqual(['B']);
  });

  it('serves several noisy groups fewest-in-flight first, counting what the receive itself hands out', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    const ready = [...of('A', 4), ...of('B', 4)];

    const picks = fair.select(ready, [...of('A', 32), ...of('B', 30)], 6, T0);

    // B 30 → 31 → 32, then A (32, first in queue order) and B alternate.
    expect(groupsOf(ready, picks)).toEqual(['B', 'B', 'A', 'B', 'A', 'B']);
    expect(picks).toEqual([4, 5, 0, 6, 1, 7]);
  });

  it('keeps a group noisy while it has a backlog, even when its in-flight count falls', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    fair.select([...of('A', 3), ...of('B', 1)], of('A', 40), 1, T0);

    const ready = [...of('A', 3), ...of('B', 1)];
    expect(fair.select(ready, of('A', 2), 2, T0 + 1000)).toEqual([3, 0]);
    expect(fair.noisyGroups()).toEqual(['A']);
  });

  it('clears a noisy group when its backlog is drained', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    fair.select([...of('A', 1), ...of('B', 1)], of('A', 40), 1, T0);
    expect(fair.noisyGroups()).toEqual(['A']);

    fair.select(of('B', 1), of('A', 5), 1, T0 + 1000);
    expect(fair.noisyGroups()).toEqual([]);
  });

  it('clears a noisy group that has sent nothing for 5 minutes, then serves it in queue order again', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A', 'B');
    const ready = [...of('A', 2), ...of('B', 1)];
    fair.select(ready, of('A', 40), 1, T0);

    expect(fair.select(ready, of('A', 5), 3, T0 + FAIR_QUEUE_RULE.quietAfterMs - 1)).toEqual([2, 0, 1]);
    expect(fair.select(ready, of('A', 5), 3, T0 + FAIR_QUEUE_RULE.quietAfterMs)).toEqual([0, 1, 2]);
    expect(fair.noisyGroups()).toEqual([]);
  });

  it('returns noisy messages when no quiet one waits: nothing is held back', () => {
    const fair = new FairDispatch();
    sentNow(fair, 'A');

    expect(fair.select(of('A', 3), of('A', 50), 10, T0)).toEqual([0, 1, 2]);
  });
});
