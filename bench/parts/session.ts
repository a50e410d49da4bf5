/**
 * One local runtime for the parts that need one (cost, overhead, enqueue latency): the bench app
 * synthesized once, run with the counting preload in every function process and a meter on the
 * runtime's own SQS client (the event source mappings' receives and deletes). The producer's
 * requests are counted by a second meter, on the clients built by {@link BenchSession.client}.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { registerAwsClientMiddleware } from '../../lib/aws/clients.js';
import { Client } from '../../lib/client/client.js';
import { ENV } from '../../lib/config/env.js';
import { listStacks, pickStack, readTemplateJson } from '../../local/assembly/cloud-assembly.js';
import { synthesize } from '../../local/assembly/synth.js';
import { LOCAL_IDENTITY } from '../../local/emulators.js';
import { startLocal, type LocalRuntime, type MappingSelector } from '../../local/runtime.js';
import { buildCountingPreload, readFunctionCounts } from '../counting/collect.js';
import type { Architecture } from '../lib/billing.js';
import { addCounts, type Counts } from '../lib/counts.js';
import { field } from '../../lib/common/field.js';
import { createMeter, type Meter } from '../lib/meter.js';
import { itemSize } from '../lib/item-sizer.js';

const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const STACK = 'HopperBench';
/** Longer than the local poller's long poll (local/mappings/sqs-poller.ts). */
const RECEIVE_DRAIN_MS = 2_500;

/** A function of the bench stack as the cost model needs it. */
export interface BenchFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly memoryMb: number;
  readonly architecture: Architecture;
}

/** The running bench stack. */
export interface BenchSession {
  readonly local: LocalRuntime;
  readonly functions: readonly BenchFunction[];
  /** An uninstrumented SQS client for the bench's own calls (never counted). */
  readonly sqs: SQSClient;
  /** A Client whose requests the producer meter counts. */
  readonly client: Client;
  /** The function whose logical id starts with `prefix`. */
  fn(prefix: string): BenchFunction;
  /** URL of the queue whose logical id starts with `prefix`. */
  queueUrl(prefix: string): string;
  /**
   * Pauses a mapping and waits out a receive already in flight (the local poller long-polls for up
   * to two seconds), so that nothing enqueued from now on is consumed before {@link resume}.
   */
  pause(mapping: MappingSelector): Promise<void>;
  /** Resumes a paused mapping. */
  resume(mapping: MappingSelector): void;
  /** Whether a queue holds no message (visible, in flight or delayed). */
  isEmpty(queueUrl: string): Promise<boolean>;
  /** Everything counted so far (functions, mappings, producer). */
  snapshot(): Counts;
  /** Waits until every queue is empty and no count has moved for `quietMs`; returns the snapshot then. */
  settle(options?: { readonly quietMs?: number; readonly timeoutMs?: number }): Promise<Counts>;
  stop(): Promise<void>;
}

interface TemplateFunction {
  readonly memoryMb: number;
  readonly architecture: Architecture;
}

function templateFunctions(assemblyDir: string): Map<string, TemplateFunction> {
  const template = readTemplateJson(pickStack(listStacks(assemblyDir), STACK));
  const resources = field(template, 'Resources');
  const found = new Map<string, TemplateFunction>();
  for (const [logicalId, resource] of Object.entries(typeof resources === 'object' && resources !== null ? resources : {})) {
    if (field(resource, 'Type') !== 'AWS::Lambda::Function') continue;
    const memory = field(field(resource, 'Properties'), 'MemorySize');
    const architectures = field(field(resource, 'Properties'), 'Architectures');
    found.set(logicalId, {
      // Lambda's defaults when the template says nothing.
      memoryMb: typeof memory === 'number' ? memory : 128,
      architecture: Array.isArray(architectures) && architectures[0] === 'arm64' ? 'arm64' : 'x86_64',
    });
  }
  return found;
}

/** Synthesizes the bench app and starts it on the local runtime, counting. */
export async function startBenchSession(log: (line: string) => void): Promise<BenchSession> {
  const workDir = join(PROJECT_DIR, '.hopper', `bench-${process.pid}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const assemblyDir = join(workDir, 'cdk.out');
  const countsDir = join(workDir, 'counts');
  log('synthesizing the bench app');
  await synthesize({ projectDir: PROJECT_DIR, outDir: assemblyDir, app: 'npx tsx bench/app/app.ts', stack: STACK });
  const preload = await buildCountingPreload(workDir, countsDir);
  const mappings: Meter = createMeter('hopper-bench-mappings');
  const unregisterMappings = registerAwsClientMiddleware(mappings.middleware);
  let local: LocalRuntime;
  try {
    log('starting the local runtime');
    local = await startLocal({
      projectDir: PROJECT_DIR,
      assemblyDir,
      stack: STACK,
      functionPreload: [preload],
      instrumentRuntimeSqs: true,
      logs: (entry) => {
        if (entry.level === 'warn' || entry.level === 'error') log(`[${entry.source}] ${entry.message}`);
      },
    });
  } finally {
    unregisterMappings();
  }
  // Registered until the session stops: the Client builds its DynamoDB client on first use.
  const sizingClient = new DynamoDBClient({ region: LOCAL_IDENTITY.region, credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey }, endpoint: local.endpoints.dynamodb });
  const producer = createMeter('hopper-bench-producer', { itemSizes: (table, key) => itemSize(sizingClient, table, key) });
  const unregisterProducer = registerAwsClientMiddleware(producer.middleware);
  const client = new Client({ env: { ...local.env, ...queueEnv(local) } });

  const byLogicalId = templateFunctions(assemblyDir);
  const functions = local.functions.map((fn) => {
    const spec = byLogicalId.get(fn.logicalId);
    return { logicalId: fn.logicalId, name: fn.name, memoryMb: spec?.memoryMb ?? 128, architecture: spec?.architecture ?? 'x86_64' };
  });
  const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };
  const sqs = new SQSClient({ region: LOCAL_IDENTITY.region, credentials, endpoint: local.endpoints.sqs, useQueueUrlAsEndpoint: false });
  const snapshot = (): Counts => addCounts(addCounts(readFunctionCounts(countsDir), mappings.counts), producer.counts);
  const queueUrls = local.queues.map((queue) => queue.url);

  const isEmpty = async (url: string): Promise<boolean> => {
    const { Attributes: attributes = {} } = await sqs.send(new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }));
    return Object.values(attributes).every((value) => Number(value) === 0);
  };
  const queuesEmpty = async (): Promise<boolean> => {
    for (const url of queueUrls) if (!(await isEmpty(url))) return false;
    return true;
  };

  return {
    local,
    functions,
    sqs,
    client,
    fn(prefix) {
      const found = functions.find((candidate) => candidate.logicalId.startsWith(prefix));
      if (found === undefined) throw new Error(`the bench stack has no function ${prefix}*; it has ${functions.map((candidate) => candidate.logicalId).join(', ')}`);
      return found;
    },
    queueUrl(prefix) {
      const found = local.queues.find((queue) => queue.logicalId.startsWith(prefix));
      if (found === undefined) throw new Error(`the bench stack has no queue ${prefix}*`);
      return found.url;
    },
    async pause(mapping) {
      local.setMappingEnabled(mapping, false);
      await new Promise((resolve) => setTimeout(resolve, RECEIVE_DRAIN_MS));
    },
    resume(mapping) {
      local.setMappingEnabled(mapping, true);
    },
    isEmpty,
    snapshot,
    async settle({ quietMs = 3_000, timeoutMs = 180_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last = JSON.stringify(snapshot());
      let quietSince = Date.now();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const now = snapshot();
        // Receives of idle queues go on while everything else is still; they do not count as motion.
        const text = JSON.stringify(withoutReceives(now));
        if (text !== last) {
          last = text;
          quietSince = Date.now();
        } else if (Date.now() - quietSince >= quietMs && (await queuesEmpty())) return now;
        if (Date.now() > deadline) throw new Error(`the bench stack did not settle within ${timeoutMs} ms`);
      }
    },
    async stop() {
      unregisterProducer();
      sqs.destroy();
      sizingClient.destroy();
      await local.stop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

function withoutReceives(counts: Counts): Counts {
  const { ReceiveMessage: _receives, ...sqs } = counts.sqs;
  return { ...counts, sqs };
}

/** The Client's environment: the stack's queue URLs and state table, as a function would see them. */
/** What a Client needs of `local`: its queue URLs and state table, from the stack's outputs. */
export function queueEnv(local: LocalRuntime): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(local.outputs)) {
    if (key.endsWith('QueueUrls')) env[ENV.queueUrls] = value;
    if (key.endsWith('StateTableName')) env[ENV.stateTable] = value;
  }
  return env;
}
