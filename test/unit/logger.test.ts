import { describe, expect, it } from 'vitest';
import { createLogger, LOG_LEVELS } from '../../lib/observability/logger.js';

const AT = new Date('2026-12-07T00:00:00.000Z');

function capture(level?: (typeof LOG_LEVELS)[keyof typeof LOG_LEVELS]) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ sink: (line) => lines.push(JSON.parse(line)), now: () => AT, base: { service: 'worker', request_id: 'r1' }, ...(level === undefined ? {} : { level }) });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes level, message and time first, then the base fields, then the call\'s', () => {
    const { logger, lines } = capture();
    logger.info('sent', { to: 'a@example.com' });
    expect(lines).toEqual([{ level: 'INFO', message: 'sent', time: AT.toISOString(), service: 'worker', request_id: 'r1', to: 'a@example.com' }]);
    expect(Object.keys(lines[0] ?? {})).toEqual(['level', 'message', 'time', 'service', 'request_id', 'to']);
  });

  it('gives a child its parents\' fields, the innermost winning, and leaves the parent as it was', () => {
    const { logger, lines } = capture();
    const job = logger.child({ jid: 'j1', request_id: 'r2' });
    const step = job.child({ step: 'fetch', jid: 'j2' });
    step.warn('slow', { ms: 1200 });
    job.error('failed');
    logger.debug('done');
    expect(lines).toEqual([
      { level: 'WARN', message: 'slow', time: AT.toISOString(), service: 'worker', request_id: 'r2', jid: 'j2', step: 'fetch', ms: 1200 },
      { level: 'ERROR', message: 'failed', time: AT.toISOString(), service: 'worker', request_id: 'r2', jid: 'j1' },
      { level: 'DEBUG', message: 'done', time: AT.toISOString(), service: 'worker', request_id: 'r1' },
    ]);
  });

  it('drops lines below its level, in children too', () => {
    const { logger, lines } = capture(LOG_LEVELS.warn);
    logger.info('hidden');
    logger.child({ jid: 'j1' }).debug('hidden too');
    logger.child({ jid: 'j1' }).warn('shown');
    expect(lines.map((line) => line.message)).toEqual(['shown']);
  });

  it('writes an error as its name and message, a bigint as text, and never throws on a cycle', () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    logger.error('boom', { error: new TypeError('bad'), size: 12n });
    logger.info('cycle', { cyclic });
    expect(lines[0]).toMatchObject({ error: { name: 'TypeError', message: 'bad' }, size: '12' });
    expect(lines[1]).toEqual({ level: 'INFO', message: 'cycle', time: AT.toISOString(), note: 'fields could not be serialized' });
  });
});
