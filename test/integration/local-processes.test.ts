/**
 * Every process the local runtime starts is stopped: by `stop()`, and by `hopper dev` on SIGINT.
 * Counted from /proc, like a user checking `ps` afterwards.
 */
import { describe, expect, it } from 'vitest';
import { LogCollector } from '../../local/log.js';
import { startLocal } from '../../local/runtime.js';
import { descendants, eventually, FIXTURE_APP, isAlive, logicalIdOf } from '../fixtures/local-helpers.js';
import { spawnNode } from '../fixtures/processes.js';

describe('process lifecycle', () => {
  it('stop() leaves no child process behind', async () => {
    const before = descendants(process.pid).sort();
    const local = await startLocal({ app: FIXTURE_APP, stack: 'LocalEvents', logs: new LogCollector().sink });
    try {
      // Start a function instance too.
      const response = await fetch(`${local.functionUrl(logicalIdOf(local.functions, 'Echo'))}hello`);
      expect(response.status).toBe(201);
      const during = descendants(process.pid);
      for (const pid of local.pids()) expect(during).toContain(pid);
      // DynamoDB Local (its watchdog shell and JVM) and at least the Echo instance.
      expect(during.length).toBeGreaterThanOrEqual(before.length + 3);
    } finally {
      await local.stop();
    }
    await eventually(async () => (JSON.stringify(descendants(process.pid).sort()) === JSON.stringify(before) ? true : undefined), 5_000, 'the children to exit');
    expect(descendants(process.pid).sort()).toEqual(before);
  });

  it('hopper dev prints one JSON object, serves, and stops every process on SIGINT', async () => {
    const { child, stdout, stderr, exited } = spawnNode(['cli/bin.mjs', 'dev', '--app', FIXTURE_APP, '--stack', 'LocalEvents', '--json', '--quiet']);
    try {
      const line = await eventually(async () => (stdout().includes('\n') ? stdout().slice(0, stdout().indexOf('\n')) : undefined), 120_000, `hopper dev to be ready (stderr: ${stderr().slice(-500)})`);
      const summary: unknown = JSON.parse(line);
      expect(summary).toMatchObject({ stack: 'LocalEvents', endpoints: { sqs: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) } });
      const functionUrls: unknown = Reflect.get(typeof summary === 'object' && summary !== null ? summary : {}, 'functionUrls');
      const echoUrl = Object.values(typeof functionUrls === 'object' && functionUrls !== null ? functionUrls : {})[0];
      expect(typeof echoUrl).toBe('string');
      const response = await fetch(`${String(echoUrl)}ping`);
      expect(response.status).toBe(201);

      const started = descendants(child.pid ?? 0);
      expect(started.length).toBeGreaterThanOrEqual(3);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      await eventually(async () => (started.every((pid) => !isAlive(pid)) ? true : undefined), 5_000, 'every process of hopper dev to exit');
      expect(started.filter(isAlive)).toEqual([]);
      expect(stdout().trim().split('\n')).toHaveLength(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('hopper dev --demo on the demo app shows jobs running, failing and dying, one readable line each', async () => {
    // The demo app of cdk.json, as a user runs it on a fresh checkout.
    const { child, stdout, stderr, exited } = spawnNode(['cli/bin.mjs', 'dev', '--demo', '--json']);
    const lines = (pattern: RegExp) => stderr().split('\n').filter((line) => pattern.test(line));
    try {
      await eventually(async () => (lines(/^\[WorkerFunction\w+\] Greet [0-9a-f]{6}… done \d+ ms$/).length > 0 ? true : undefined), 120_000, `a demo job to run (stderr: ${stderr().slice(-800)})`);
      // The AlwaysFails job enqueued with retry 0 goes from the worker to the retry function, which buries it.
      const buried = () => lines(/^\[JobsRetryFunction\w+\] AlwaysFails [0-9a-f]{6}… dead after 1 attempt: Error: AlwaysFails always fails$/);
      await eventually(async () => (buried().length > 0 ? true : undefined), 30_000, `a demo job to reach the dead set (stderr: ${stderr().slice(-800)})`);
      // Metric (EMF) lines are not shown without --metrics.
      expect(lines(/"_aws"/)).toEqual([]);

      // The dashboard is served on 127.0.0.1 and reaches the local API through its /v1 routes.
      const summary: unknown = JSON.parse(stdout().slice(0, stdout().indexOf('\n')));
      const dashboardUrl = String(Reflect.get(typeof summary === 'object' && summary !== null ? summary : {}, 'dashboardUrl'));
      const page = await fetch(dashboardUrl);
      const queues = await fetch(`${dashboardUrl}v1/queues`);
      expect(dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Hopper</title>');
      expect(await queues.json()).toMatchObject({ queues: [{ name: 'default' }, { name: 'critical' }] });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
