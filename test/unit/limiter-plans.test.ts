import { describe, expect, it } from 'vitest';
import { planAddEntry, planRemoveEntry } from '../../lib/limiters/dynamo/entry-plans.js';
import { planSettleGcra, planTakeFromGcra } from '../../lib/limiters/dynamo/gcra-plans.js';
import { planTakeFromBucket } from '../../lib/limiters/dynamo/bucket-plans.js';
import { pointsParams } from '../../lib/limiters/points.js';

const concurrent = { type: 'concurrent', limit: 2, lockTimeoutMs: 10_000, waitMs: 0 } as const;

describe('planAddEntry (concurrent, limit 2)', () => {
  it('first assumes room: one write that adds the lease while fewer than 2 are stored', () => {
    expect(planAddEntry(concurrent, 'me', 1_000, 'unread')).toEqual({
      kind: 'write',
      plan: {
        update: 'SET #me = :v, #ttl = :ttl ADD #n :d',
        condition: 'attribute_not_exists(#me) AND (attribute_not_exists(#n) OR #n < :max)',
        names: { '#n': 'n', '#ttl': 'ttl', '#me': 'e_me' },
        values: { ':v': { N: '11000' }, ':d': { N: '1' }, ':max': { N: '2' }, ':ttl': { N: String(11 + 3_600) } },
      },
    });
  });

  it('removes dead leases in the same write, on condition that they still hold the values read', () => {
    const item = { n: { N: '2' }, e_old: { N: '900' }, e_live: { N: '5000' } };
    expect(planAddEntry(concurrent, 'me', 1_000, item)).toEqual({
      kind: 'write',
      plan: {
        update: 'SET #me = :v, #ttl = :ttl ADD #n :d REMOVE #x0',
        condition: 'attribute_not_exists(#me) AND (attribute_not_exists(#n) OR #n < :max) AND #x0 = :x0',
        names: { '#n': 'n', '#ttl': 'ttl', '#me': 'e_me', '#x0': 'e_old' },
        values: { ':v': { N: '11000' }, ':d': { N: '0' }, ':max': { N: '3' }, ':ttl': { N: String(11 + 3_600) }, ':x0': { N: '900' } },
      },
    });
  });

  it('refuses from the item read back when every lease is live, with when one is likely to end', () => {
    // Leases taken at -5000 and -6000 (expiries 5000 and 4000, lock timeout 10 s), none released yet.
    const item = { n: { N: '2' }, e_a: { N: '5000' }, e_b: { N: '4000' } };
    expect(planAddEntry(concurrent, 'me', 1_000, item)).toEqual({ kind: 'refuse', retryAfterMs: 3_000 });
    // The last lease was held 6.5 s: a (started at -5000) is expected to end at 1500.
    expect(planAddEntry(concurrent, 'me', 1_000, { ...item, h: { N: '6500' } })).toEqual({ kind: 'refuse', retryAfterMs: 500 });
  });

  it('recognises its own lease in the item read back (a retried write that had landed)', () => {
    const item = { n: { N: '2' }, e_me: { N: '11000' }, e_b: { N: '4000' } };
    expect(planAddEntry(concurrent, 'me', 1_000, item)).toEqual({ kind: 'done' });
  });
});

describe('planRemoveEntry', () => {
  it('removes the lease and decrements the count only if the lease is still there', () => {
    expect(planRemoveEntry('me', 'unread')).toEqual({
      kind: 'write',
      plan: { update: 'REMOVE #me ADD #n :minus', condition: 'attribute_exists(#me)', names: { '#me': 'e_me', '#n': 'n' }, values: { ':minus': { N: '-1' } } },
    });
    expect(planRemoveEntry('me', { n: { N: '0' } })).toEqual({ kind: 'done' });
  });

  it('records how long the lease was held, for the next refusal\'s estimate', () => {
    expect(planRemoveEntry('me', 'unread', 412.6)).toEqual({
      kind: 'write',
      plan: {
        update: 'SET #h = :held REMOVE #me ADD #n :minus',
        condition: 'attribute_exists(#me)',
        names: { '#me': 'e_me', '#n': 'n', '#h': 'h' },
        values: { ':minus': { N: '-1' }, ':held': { N: '413' } },
      },
    });
  });
});

describe('planTakeFromBucket (2 per second)', () => {
  const bucket = { type: 'bucket', limit: 2, intervalMs: 1_000, waitMs: 0 } as const;

  it('opens a new bucket when the item holds an older one', () => {
    const step = planTakeFromBucket(bucket, 2_500, { b: { N: '1000' }, i: { N: '1000' }, c: { N: '2' } });
    expect(step.kind === 'write' && step.plan.condition).toBe('attribute_not_exists(#b) OR #i <> :i OR #b < :b');
    expect(step.kind === 'write' && step.plan.values[':b']).toEqual({ N: '2000' });
  });

  it('refuses until the next bucket when the current one is full', () => {
    expect(planTakeFromBucket(bucket, 2_500, { b: { N: '2000' }, i: { N: '1000' }, c: { N: '2' } })).toEqual({ kind: 'refuse', retryAfterMs: 500 });
  });
});

describe('GCRA plans (capacity 100, refill 10 per second)', () => {
  const params = pointsParams({ capacity: 100, refill: 10, intervalMs: 1_000 });

  it('takes points with an atomic ADD bounded so the bucket cannot overflow', () => {
    const step = planTakeFromGcra(params, 40n, 1_000, 'unread');
    expect(step.kind === 'write' && step.plan).toMatchObject({
      update: 'SET #ttl = :ttl ADD #t :inc',
      condition: '#s = :s AND #t >= :now AND #t <= :max',
      values: { ':inc': { N: '40000' }, ':now': { N: '10000' }, ':max': { N: '70000' }, ':s': { N: '10' } },
    });
  });

  it('restarts a drained bucket from now', () => {
    const step = planTakeFromGcra(params, 40n, 1_000, { t: { N: '5000' }, s: { N: '10' } });
    expect(step.kind === 'write' && step.plan).toMatchObject({ update: 'SET #t = :t, #s = :s, #ttl = :ttl', values: { ':t': { N: '50000' } } });
  });

  it('clamps a refund larger than what is still draining to an empty bucket', () => {
    const step = planSettleGcra(params, -50n, 1_000, { t: { N: '30000' }, s: { N: '10' } });
    expect(step.kind === 'write' && step.plan).toMatchObject({
      update: 'SET #t = :now',
      condition: '#s = :s AND #t >= :now AND #t < :floor',
      values: { ':now': { N: '10000' }, ':floor': { N: '60000' } },
    });
  });

  it('does nothing for a refund on a drained bucket', () => {
    expect(planSettleGcra(params, -5n, 1_000, { t: { N: '5000' }, s: { N: '10' } })).toEqual({ kind: 'done' });
  });
});
