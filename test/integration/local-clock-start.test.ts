/**
 * The local runtime's function pool and clock shifts: an instance that is still starting when the
 * clock offset changes read the old offset (the worker keeps what it read when its first
 * invocation came), so the pool must not hand it out. A real instance process, a slow module.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccountConcurrency } from '../../local/host/concurrency.js';
import { FunctionPool } from '../../local/host/function-pool.js';
import { runnerPath } from '../../local/host/runner-build.js';

const dir = mkdtempSync(join(tmpdir(), 'hopper-clock-start-'));
// Reads the offset while it loads, as code that keeps a clock from its start does.
writeFileSync(join(dir, 'index.mjs'), [
  'await new Promise((resolve) => setTimeout(resolve, 800));',
  'const offsetAtStart = process.env.HOPPER_CLOCK_OFFSET_MS;',
  'export const handler = async () => ({ offsetAtStart, offsetNow: process.env.HOPPER_CLOCK_OFFSET_MS });',
].join('\n'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a function instance starting while the clock is shifted', () => {
  it('is replaced by one that starts with the new offset', async () => {
    const spec = {
      logicalId: 'SlowStart', name: 'slow-start', arn: 'arn:aws:lambda:us-east-1:000000000000:function:slow-start', codeDir: dir,
      handler: 'index.handler', runtime: 'nodejs20.x', family: 'node' as const, memorySizeMb: 128, timeoutSeconds: 10, environment: {}, reservedConcurrency: undefined, unsupported: undefined,
    };
    const pool = new FunctionPool(spec, { runnerPath: await runnerPath(), python: { command: 'python3', bootstrapPath: '' }, account: new AccountConcurrency(1000, [spec]), log: () => undefined, baseEnv: () => ({}), defaultConcurrency: 1, idleTimeoutMs: 60_000, initTimeoutMs: 20_000, preload: [] });
    try {
      const invocation = pool.invoke({});
      // The instance is loading its module now (it takes 800 ms).
      await new Promise((resolve) => setTimeout(resolve, 200));
      pool.setClockOffset(1_200_000);

      const result = await invocation;

      expect(result).toMatchObject({ ok: true, value: { offsetAtStart: '1200000', offsetNow: '1200000' } });
      expect(pool.pids).toHaveLength(1);
    } finally {
      await pool.stop();
    }
  });
});
