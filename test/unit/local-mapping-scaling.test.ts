import { describe, expect, it } from 'vitest';
import { startLambdaApi, type LambdaApiBackend, type MappingHandle } from '../../local/http/lambda-api.js';
import type { MappingSpec } from '../../local/resources/event-source-mapping.js';

const SPEC: MappingSpec = {
  logicalId: 'WorkerSqsEventSourceBulk', uuid: 'uuid-bulk', kind: 'sqs', functionName: 'Worker', eventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:bulk',
  enabled: true, batchSize: 5, maximumBatchingWindowSeconds: 0, reportBatchItemFailures: true, maximumConcurrency: 8, filterPatterns: [],
  startingPosition: undefined, bisectBatchOnFunctionError: false, maximumRetryAttempts: -1, maximumRecordAgeSeconds: -1, onFailureDestination: undefined,
};

/** The API's async invoker, never reached by these requests. */
const NO_ASYNC: LambdaApiBackend['asyncInvoker'] = Object.create(null);

describe("the local Lambda API's UpdateEventSourceMapping with ScalingConfig", () => {
  it('sets the mapping\'s maximum concurrency, refuses one out of range, and shows it on GET', async () => {
    let maximum: number | undefined = 8;
    const handle: MappingHandle = {
      spec: SPEC, functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:Worker', isEnabled: true, receiving: false, lastModified: 0,
      setEnabled: () => undefined,
      get maximumConcurrency() { return maximum; },
      setMaximumConcurrency(value) { maximum = value; return true; },
    };
    const api = await startLambdaApi(0, { mappings: () => [handle], findFunction: () => undefined, asyncInvoker: NO_ASYNC, log: () => undefined, mappingUpdateMs: 0 });
    try {
      const put = (body: unknown) => fetch(`${api.url}/2015-03-31/event-source-mappings/uuid-bulk`, { method: 'PUT', body: JSON.stringify(body) });
      expect((await put({ ScalingConfig: { MaximumConcurrency: 3 } })).status).toBe(202);
      expect(maximum).toBe(3);
      const refused = await put({ ScalingConfig: { MaximumConcurrency: 1 } });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ message: 'ScalingConfig.MaximumConcurrency must be an integer from 2 to 1000, but 1 was provided' });
      const view: unknown = await (await fetch(`${api.url}/2015-03-31/event-source-mappings/uuid-bulk`)).json();
      expect(view).toMatchObject({ UUID: 'uuid-bulk', ScalingConfig: { MaximumConcurrency: 3 } });
    } finally {
      await api.close();
    }
  });
});
