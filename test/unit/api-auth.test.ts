/**
 * An unsigned request never reaches a route: the Function URL's AWS_IAM auth refuses it in AWS
 * (test/infra), and the handler refuses any request without a verified IAM identity as well.
 */
import { describe, expect, it } from 'vitest';
import { apiFixture, urlEvent } from './api-fakes.js';

describe('requests without a verified IAM identity', () => {
  it.each([
    { method: 'POST', path: '/v1/jobs', body: { jobtype: 'A' } },
    { method: 'POST', path: '/v1/dead/retry', body: {} },
    { method: 'GET', path: '/v1/queues' },
    { method: 'GET', path: '/nowhere' },
  ])('$method $path answers 401 and does nothing', async ({ method, path, body }) => {
    const { call, sqs } = apiFixture();

    const response = await call(urlEvent({ method, path, iam: null, ...(body === undefined ? {} : { body }) }));

    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 401,
      json: { error: { code: 'unauthenticated', message: 'this API takes only SigV4-signed requests (service lambda); the request carried no verified IAM identity' } },
    });
    expect(sqs.batches).toEqual([]);
  });

  it('serves the same request once it carries an identity', async () => {
    const { call } = apiFixture();
    expect((await call(urlEvent({ method: 'POST', path: '/v1/jobs', body: { jobtype: 'A' } }))).statusCode).toBe(202);
  });
});
