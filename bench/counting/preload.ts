/**
 * The counting preload: imported (`node --import`) into every function process of the local
 * runtime before its handler (`startLocal({ functionPreload })`). Registers a meter on every AWS
 * client the function builds, times each invocation from the runtime's `invoke` message to the
 * `result` the process sends back, and writes its counts to `<dir>/<function>-<pid>.json` just
 * before each result leaves, so that the bench process can read them once an invocation has ended.
 *
 * Bundled by bench/counting/collect.ts, which fixes the directory at build time (a function's
 * environment is the template's, not the bench process's).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { registerAwsClientMiddleware } from '../../lib/aws/clients.js';
import { field } from '../../lib/common/field.js';
import { createMeter } from '../lib/meter.js';
import { dynamoConfig, itemSize } from '../lib/item-sizer.js';

declare const HOPPER_BENCH_COUNTS_DIR: string;

// Items are sized with a client of its own, which no meter counts.
let sizingClient: Promise<DynamoDBClient> | undefined;
const meter = createMeter('hopper-bench-meter', {
  itemSizes: async (table, key) => {
    sizingClient ??= import('@aws-sdk/client-dynamodb').then(({ DynamoDBClient: Client }) => new Client(dynamoConfig(process.env)));
    return itemSize(await sizingClient, table, key);
  },
});
registerAwsClientMiddleware(meter.middleware);
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'unknown';
const memoryMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128');
const file = join(HOPPER_BENCH_COUNTS_DIR, `${functionName}-${process.pid}.json`);
const started = new Map<string, { readonly atMs: number; readonly records: number }>();

process.on('message', (message: unknown) => {
  if (field(message, 'type') !== 'invoke') return;
  const records = field(field(message, 'event'), 'Records');
  started.set(String(field(message, 'requestId')), { atMs: performance.now(), records: Array.isArray(records) ? records.length : 0 });
});

const send = process.send?.bind(process);
if (send !== undefined) {
  Reflect.set(process, 'send', (message: unknown, ...rest: unknown[]) => {
    if (field(message, 'type') === 'result') {
      const requestId = String(field(message, 'requestId'));
      const start = started.get(requestId);
      started.delete(requestId);
      if (start !== undefined) meter.recordInvocation(functionName, memoryMb, performance.now() - start.atMs, start.records);
      // Written aside and renamed: a reader never sees half a file.
      writeFileSync(`${file}.tmp`, JSON.stringify(meter.counts));
      renameSync(`${file}.tmp`, file);
    }
    return Reflect.apply(send, process, [message, ...rest]);
  });
}
