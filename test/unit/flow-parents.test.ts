/**
 * `ctx.flow.parents()`: a step gets each settled parent's outcome and, when the parent's job keeps
 * its result, that result; a parent failed on a `remove` edge is left out.
 */
import { describe, expect, it } from 'vitest';
import { compileFlow } from '../../lib/flow/compile.js';
import { job, type FlowSteps } from '../../lib/flow/model.js';
import { parentRefs, parentResults, readParentRefs } from '../../lib/flow/parents.js';
import type { Job } from '../../lib/job/model.js';
import { flowContext } from '../../lib/worker/flow-step.js';
import type { BatchContext } from '../../lib/worker/types.js';

const runtime = { queueUrls: { default: 'http://q/default' }, defaultRetry: 25 };
const t0 = new Date('2026-01-01T00:00:00.000Z');

/** parse (result kept), thumbs (no result), audit and lint → index, with the edges given. */
const plan = compileFlow({
  id: 'f1',
  steps: {
    parse: job('Parse', [], { custom: { result: true } }),
    thumbs: job('Thumbs'),
    audit: job('Audit'),
    lint: job('Lint'),
    index: job('Index').after(['parse', 'thumbs']).after('audit', { onFailure: 'ignore' }).after('lint', { onFailure: 'remove' }),
  },
}, runtime, t0).plan;

const settled: FlowSteps = {
  parse: { status: 'succeeded', attempt: 2 },
  thumbs: { status: 'succeeded', attempt: 1 },
  audit: { status: 'failed', attempt: 1 },
  lint: { status: 'failed', attempt: 1 },
  index: { status: 'started', attempt: 1 },
};

describe('parents passed on to a step', () => {
  it('carries each settled parent with its attempt and outcome, leaving out one failed on a `remove` edge', () => {
    expect(parentRefs(plan, settled, 'index')).toEqual({
      parse: { attempt: 2, status: 'succeeded', result: true },
      thumbs: { attempt: 1, status: 'succeeded', result: false },
      audit: { attempt: 1, status: 'failed', result: false },
    });
    expect(parentRefs(plan, { ...settled, thumbs: { status: 'started', attempt: 1 } }, 'index')).not.toHaveProperty('thumbs');
    expect(parentRefs(plan, settled, 'parse')).toEqual({});
  });

  it('reads the result only of a parent that succeeded and keeps it, from its attempt\'s job', async () => {
    const reads: string[] = [];
    const refs = readParentRefs(JSON.stringify({ id: 'f1', step: 'index', attempt: 1, parents: parentRefs(plan, settled, 'index') }));

    const parents = await parentResults(refs, (parent, attempt) => `f1.${parent}.${attempt}`, async (jid) => {
      reads.push(jid);
      return { rows: 3 };
    });

    expect(parents).toEqual({ parse: { status: 'succeeded', result: { rows: 3 } }, thumbs: { status: 'succeeded', result: undefined }, audit: { status: 'failed', result: undefined } });
    expect(reads).toEqual(['f1.parse.2']);
  });

  it('gives ctx.flow.parents() from the job a started step carries, reading once however often it is called', async () => {
    const reads: string[] = [];
    const stepJob: Job = {
      jid: 'f1.index.1', jobtype: 'Index', args: [], queue: 'default', retry: 25, created_at: t0.toISOString(), enqueued_at: t0.toISOString(),
      custom: { bid: 'f1.index.1', flow: { id: 'f1', step: 'index', attempt: 1, parents: parentRefs(plan, settled, 'index') } },
    };
    const unused = () => Promise.reject(new Error('not used by this test'));
    const batch: BatchContext = { bid: 'f1.index.1', add: async () => [], child: unused, status: unused };
    const ctx = flowContext(stepJob, batch, async (jid) => {
      reads.push(jid);
      return ['a', 'b'];
    });

    expect((await ctx?.parents())?.parse).toEqual({ status: 'succeeded', result: ['a', 'b'] });
    await ctx?.parents();
    expect(reads).toEqual(['f1.parse.2']);
  });
});
