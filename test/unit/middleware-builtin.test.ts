import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { UnrecoverableJobError } from '../../lib/errors/base.js';
import { InvalidMiddlewareError } from '../../lib/errors/middleware.js';
import { byteLength, type Job } from '../../lib/job/model.js';
import type { EnqueueContext } from '../../lib/middleware/chain.js';
import { COMPRESS_ARGS_DEFAULTS, GZIP_ARGS_MARKER, compressArgs, currentTrace, traceContext } from '../../lib/middleware/builtin.js';
import { createLogger } from '../../lib/observability/logger.js';

const NOW = new Date('2026-12-06T09:00:00.000Z');
/** A version-00 traceparent Hopper made: lowercase hex ids, sampled. */
const NEW_TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
const PARENT = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7' };
const PARENT_TRACEPARENT = `00-${PARENT.traceId}-${PARENT.parentId}-01`;

function job(overrides: Partial<Job> = {}): Job {
  return { jid: `job-${randomUUID()}`, jobtype: 'SendEmail', args: [], queue: 'default', created_at: NOW.toISOString(), retry: 25, ...overrides };
}

/** An enqueue context whose logger keeps its lines, parsed. */
function enqueueContext(): { ctx: EnqueueContext; lines: unknown[] } {
  const lines: unknown[] = [];
  const logger = createLogger({ sink: (line) => lines.push(JSON.parse(line)), now: () => NOW });
  return { ctx: { via: 'client', logger }, lines };
}

/** `[   …   ]`: valid JSON, an empty array, of exactly `size` bytes. */
function emptyArrayOfBytes(size: number): Buffer {
  const json = Buffer.alloc(size, ' ');
  json.write('[', 0);
  json.write(']', size - 1);
  return json;
}

function traceOf(enqueued: Job): { traceId: string; parentId: string } {
  const match = NEW_TRACEPARENT.exec(String(enqueued.custom?.trace));
  if (match === null) throw new Error(`not a traceparent Hopper makes: ${String(enqueued.custom?.trace)}`);
  return { traceId: match[1] ?? '', parentId: match[2] ?? '' };
}

describe('traceContext', () => {
  it('starts a new trace for a job enqueued outside a run, keeping the job\'s other custom fields', async () => {
    const trace = traceContext();
    const { ctx, lines } = enqueueContext();

    const first = await trace.client(job({ custom: { tenant: 'acme' } }), ctx);
    const second = await trace.client(job(), ctx);

    expect(first.custom?.tenant).toBe('acme');
    expect(first.custom?.trace).toMatch(NEW_TRACEPARENT);
    expect(traceOf(first).traceId).not.toMatch(/^0+$/);
    expect(traceOf(first).parentId).not.toMatch(/^0+$/);
    expect(traceOf(second).traceId).not.toBe(traceOf(first).traceId);
    expect(lines).toEqual([]);
  });

  it('puts a job enqueued during a run in the run\'s trace, with the run\'s span as parent', async () => {
    const trace = traceContext();
    const { ctx } = enqueueContext();
    let child: Job | undefined;
    let during: ReturnType<typeof currentTrace>;

    const value = await trace.server(job({ custom: { trace: PARENT_TRACEPARENT } }), {}, async () => {
      await sleep(1);
      during = currentTrace();
      child = await trace.client(job(), ctx);
      return 'handled';
    });

    expect(value).toBe('handled');
    expect(during?.traceId).toBe(PARENT.traceId);
    expect(during?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(during?.spanId).not.toBe(PARENT.parentId);
    expect(during?.traceparent).toBe(`00-${PARENT.traceId}-${during?.spanId}-01`);
    expect(child?.custom?.trace).toBe(during?.traceparent);
  });

  it('starts a trace for a run whose job carries none, and hands on its flags', async () => {
    const trace = traceContext();
    const { ctx } = enqueueContext();
    const seen: { traceparent?: string; child?: unknown }[] = [];

    await trace.server(job(), {}, async () => {
      seen.push({ traceparent: currentTrace()?.traceparent, child: (await trace.client(job(), ctx)).custom?.trace });
    });
    await trace.server(job({ custom: { trace: `00-${PARENT.traceId}-${PARENT.parentId}-00` } }), {}, async () => {
      seen.push({ traceparent: currentTrace()?.traceparent, child: (await trace.client(job(), ctx)).custom?.trace });
    });

    expect(seen[0]?.traceparent).toMatch(NEW_TRACEPARENT);
    expect(seen[0]?.child).toBe(seen[0]?.traceparent);
    // Not sampled upstream: the job's own calls and jobs are not sampled either.
    expect(seen[1]?.child).toMatch(new RegExp(`^00-${PARENT.traceId}-[0-9a-f]{16}-00$`));
  });

  it('keeps each of two concurrent runs in its own trace', async () => {
    const trace = traceContext();
    const other = '0af7651916cd43dd8448eb211c80319c';
    const seen: (string | undefined)[] = [];
    const run = (traceId: string, waitMs: number) => trace.server(job({ custom: { trace: `00-${traceId}-${PARENT.parentId}-01` } }), {}, async () => {
      await sleep(waitMs);
      seen.push(currentTrace()?.traceId);
    });

    await Promise.all([run(PARENT.traceId, 20), run(other, 1)]);

    expect(seen).toEqual([other, PARENT.traceId]);
  });

  it('keeps a valid trace as it is, inside a run too', async () => {
    const trace = traceContext();
    const { ctx, lines } = enqueueContext();
    const traced = job({ custom: { trace: PARENT_TRACEPARENT } });
    let inRun: Job | undefined;

    const outside = await trace.client(traced, ctx);
    await trace.server(job(), {}, async () => {
      inRun = await trace.client(traced, ctx);
    });

    expect(outside).toBe(traced);
    expect(inRun).toBe(traced);
    expect(lines).toEqual([]);
  });

  it.each([
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT.parentId}-01`],
    ['an all-zero parent id', `00-${PARENT.traceId}-${'0'.repeat(16)}-01`],
    ['uppercase hex', PARENT_TRACEPARENT.toUpperCase()],
    ['another version', `ff-${PARENT.traceId}-${PARENT.parentId}-01`],
    ['text', 'not a trace'],
    ['a number', 42],
  ])('replaces %s with a new trace and warns naming custom.trace', async (_case, invalid) => {
    const trace = traceContext();
    const { ctx, lines } = enqueueContext();

    const enqueued = await trace.client(job({ custom: { trace: invalid } }), ctx);

    expect(enqueued.custom?.trace).toMatch(NEW_TRACEPARENT);
    expect(traceOf(enqueued).traceId).not.toBe(PARENT.traceId);
    expect(lines).toEqual([expect.objectContaining({ level: 'WARN', field: 'custom.trace', message: expect.stringContaining('custom.trace') })]);
  });

  it('gives no current trace outside a run, nor after one', async () => {
    const trace = traceContext();

    expect(currentTrace()).toBeUndefined();
    await trace.server(job(), {}, async () => {
      expect(currentTrace()).toBeDefined();
    });
    expect(currentTrace()).toBeUndefined();
  });
});

describe('compressArgs', () => {
  const { ctx } = enqueueContext();
  /** Arguments a handler would find hard to round-trip: non-ASCII text, emoji, nesting, numbers, null. */
  const unicodeArgs = [
    { name: 'Zoë 🚀 日本語', lines: Array.from({ length: 600 }, (_, index) => ({ id: index, note: 'café ☕ naïve — ünïcödé' })) },
    'π ≈ 3.14159',
    null,
    3.5,
  ];

  /** Runs the server part with `compressed` and gives back the job the handler would get. */
  async function handlerJob(compress: ReturnType<typeof compressArgs>, compressed: Job): Promise<{ handed: Job | undefined; value: unknown }> {
    let handed: Job | undefined;
    const value = await compress.server(compressed, {}, async (changed) => {
      handed = changed;
      return 'handled';
    });
    return { handed, value };
  }

  it('leaves arguments of at most aboveBytes as they are and compresses one byte more', async () => {
    const compress = compressArgs({ aboveBytes: 100 });
    const atLimit = job({ args: ['x'.repeat(96)] });
    const over = job({ args: ['x'.repeat(97)] });
    expect(byteLength(JSON.stringify(atLimit.args))).toBe(100);

    expect(await compress.client(atLimit, ctx)).toBe(atLimit);
    expect((await compress.client(over, ctx)).args).toEqual([{ [GZIP_ARGS_MARKER]: expect.any(String) }]);
  });

  it('compresses large arguments to a smaller job and hands the handler exactly the original ones', async () => {
    const compress = compressArgs();
    const original = job({ args: unicodeArgs, custom: { tenant: 'acme' } });
    const size = byteLength(JSON.stringify(original.args));
    expect(size).toBeGreaterThan(COMPRESS_ARGS_DEFAULTS.aboveBytes);

    const compressed = await compress.client(original, ctx);
    const { handed, value } = await handlerJob(compress, compressed);

    expect(compressed.args).toEqual([{ [GZIP_ARGS_MARKER]: expect.stringMatching(/^[A-Za-z0-9+/]+={0,2}$/) }]);
    expect(byteLength(JSON.stringify(compressed.args))).toBeLessThan(size / 4);
    expect({ ...compressed, args: original.args }).toEqual(original);
    expect(handed).toEqual(original);
    expect(value).toBe('handled');
  });

  it('compresses once when the client chain runs again (a retry, a scheduler move)', async () => {
    const compress = compressArgs({ aboveBytes: 0 });
    const once = await compress.client(job({ args: unicodeArgs }), ctx);

    const twice = await compress.client(once, ctx);

    expect(twice).toBe(once);
    expect((await handlerJob(compress, twice)).handed?.args).toEqual(unicodeArgs);
  });

  it('leaves arguments already in the compressed form alone, even when they would compress', async () => {
    const compress = compressArgs({ aboveBytes: 0 });
    const marked = job({ args: [{ [GZIP_ARGS_MARKER]: 'A'.repeat(40_000) }] });

    expect(await compress.client(marked, ctx)).toBe(marked);
  });

  it('leaves incompressible arguments uncompressed when compression would not shrink them', async () => {
    const compress = compressArgs({ aboveBytes: 1_000 });
    const random = job({ args: [randomBytes(12_000).toString('base64')] });
    const json = JSON.stringify(random.args);
    const wouldBe = byteLength(JSON.stringify([{ [GZIP_ARGS_MARKER]: gzipSync(json).toString('base64') }]));
    expect(wouldBe).toBeGreaterThanOrEqual(byteLength(json));

    expect(await compress.client(random, ctx)).toBe(random);
  });

  it('leaves a unique job\'s arguments as they are: its lock is keyed by them', async () => {
    const unique = job({ args: ['x'.repeat(40_000)], custom: { unique_for: 60 } });
    expect(await compressArgs().client(unique, enqueueContext().ctx)).toBe(unique);
  });

  it('hands on a job whose arguments are not exactly the compressed form unchanged', async () => {
    const compress = compressArgs();

    for (const args of [[], ['plain', 1], [{ [GZIP_ARGS_MARKER]: 'H4sI', other: 1 }], [{ [GZIP_ARGS_MARKER]: 42 }], [{ [GZIP_ARGS_MARKER]: 'H4sI' }, 2]]) {
      const calls: (Job | undefined)[] = [];
      await compress.server(job({ args }), {}, async (changed) => {
        calls.push(changed);
      });
      expect(calls).toEqual([undefined]);
    }
  });

  it.each([
    ['bad base64', 'not base64!'],
    // Node's base64 decoder skips such a character; the body must still count as damaged.
    ['a character outside base64 in a good body', ((good: string) => `${good.slice(0, 8)}!${good.slice(8)}`)(gzipSync('[1]').toString('base64'))],
    ['base64 that is not gzip', Buffer.from('hello, world').toString('base64')],
    ['gzip of text that is not JSON', gzipSync('not json').toString('base64')],
    ['gzip of JSON that is not an array', gzipSync('{"a":1}').toString('base64')],
    ['a cut-off gzip body', gzipSync(JSON.stringify(unicodeArgs)).subarray(0, 200).toString('base64')],
    ['a small body that expands past the cap (a gzip bomb)', gzipSync(emptyArrayOfBytes(COMPRESS_ARGS_DEFAULTS.maxDecodedBytes + 1)).toString('base64')],
  ])('fails a job with %s as unrecoverable, naming the field, without running the handler', async (_case, body) => {
    const compress = compressArgs();
    let ran = false;

    const run = compress.server(job({ args: [{ [GZIP_ARGS_MARKER]: body }] }), {}, async () => {
      ran = true;
    });

    await expect(run).rejects.toThrow(UnrecoverableJobError);
    await expect(run).rejects.toMatchObject({ name: 'UnrecoverableJobError', message: expect.stringContaining('args[0].$hopper_gzip') });
    expect(ran).toBe(false);
  });

  it.each([
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a string', '100' as unknown as number],
  ])('refuses %s as aboveBytes with InvalidMiddlewareError naming it', (_case, aboveBytes) => {
    expect(() => compressArgs({ aboveBytes })).toThrow(InvalidMiddlewareError);
    expect(() => compressArgs({ aboveBytes })).toThrow(/aboveBytes must be an integer number of bytes ≥ 0/);
  });

  it('accepts 0 as aboveBytes', () => {
    expect(() => compressArgs({ aboveBytes: 0 })).not.toThrow();
  });
});
