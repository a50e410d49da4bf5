/** `POST /v1/redrive/retries` over a fake dead-letter queue. */
import { describe, expect, it } from 'vitest';
import type { RedriveResult } from '../../lib/admin/redrive.js';
import { createApiHandler } from '../../lib/api/handler.js';
import { apiFixture, urlEvent } from './api-fakes.js';

function withDeadLetters(results: RedriveResult[]) {
  const fixture = apiFixture();
  const limits: number[] = [];
  const context = { ...fixture.context, deadLetters: { redrive: async (limit: number) => { limits.push(limit); return results.shift() ?? { moved: 0, lingering: 0, failed: [], kept: [], empty: true }; } } };
  const handler = createApiHandler({ context: () => context, log: () => undefined });
  const call = async (body: unknown) => {
    const response = await handler(urlEvent({ method: 'POST', path: '/v1/redrive/retries', body }));
    return { status: response.statusCode, json: JSON.parse(response.body) };
  };
  return { call, limits, fixture };
}

describe('POST /v1/redrive/retries', () => {
  it('moves up to limit messages and says whether the DLQ is empty', async () => {
    const kept = [{ messageId: 'm-2', reason: 'a batch-stream failure record (shard s-1, sequence numbers 1 to 2), not a job: left in the DLQ' }];
    const { call, limits } = withDeadLetters([{ moved: 7, lingering: 1, failed: [{ messageId: 'm-1', reason: 'ThrottlingException: slow down' }], kept, empty: true }]);

    const response = await call({ limit: 50 });

    expect(limits).toEqual([50]);
    expect(response).toEqual({ status: 200, json: {
      moved: 7,
      lingering: 1,
      failed: [{ message_id: 'm-1', reason: 'ThrottlingException: slow down' }],
      kept: [{ message_id: 'm-2', reason: 'a batch-stream failure record (shard s-1, sequence numbers 1 to 2), not a job: left in the DLQ' }],
      done: true,
    } });
  });

  it.each([
    { body: { limit: 0 }, parameter: 'limit' },
    { body: { limit: 1001 }, parameter: 'limit' },
    { body: { limit: '10' }, parameter: 'limit' },
    { body: { queue: 'default' }, parameter: 'queue' },
    { body: [1], parameter: 'body' },
  ])('answers 400 naming $parameter', async ({ body, parameter }) => {
    const { call, limits } = withDeadLetters([]);
    const response = await call(body);
    expect({ status: response.status, parameter: response.json.error.parameter }).toEqual({ status: 400, parameter });
    expect(limits).toEqual([]);
  });

  it('answers 501 when the function does not know the queues', async () => {
    const { fixture } = withDeadLetters([]);
    const response = await fixture.call(urlEvent({ method: 'POST', path: '/v1/redrive/retries', body: {} }));
    expect({ status: response.statusCode, code: JSON.parse(response.body).error.code }).toEqual({ status: 501, code: 'not_configured' });
  });
});
