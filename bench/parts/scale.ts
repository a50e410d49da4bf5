/**
 * The scale model: Hopper's hot items at 10,000 jobs a second and 100,000 tenants, on this machine.
 *
 * DynamoDB Local takes a few hundred writes a second here, so the model slows time instead of
 * shrinking the system: every clock of the run (the partition limit's, the limiters', the quotas')
 * reads model time, which runs `local rate / 10,000` as fast as real time. A few hundred jobs a real
 * second are then 10,000 jobs a model second, against specs written at AWS's scale (a quota of
 * 12,000 jobs a second) and AWS's partition limit (1,000 write units a model second per key), in
 * front of DynamoDB Local (local/dynamodb/front.ts). The limit's burst is a fiftieth of a model
 * second, far stricter than AWS's second, so that a key's rate decides, not its first second's
 * allowance: a run lasts a fraction of a model second.
 *
 * Each scenario runs twice, with the same load: as Hopper writes it now, and as it wrote it before
 * (`before`): a batch's job outcomes (32 keys; before, one), a queue quota and the tenants' quotas
 * of 100,000 tenants taken per enqueue (the queue's in shards; before, one item), a rate limiter
 * shared by every job (shards; before, one item), every job scheduled (its entry put into the
 * scheduled set and deleted by the sweep: 64 shards; before, 16). The figures: requests the
 * front throttled, and the hottest partition key's write units per model second, against half a
 * partition (500), the bar issue 23 sets, and against what the model predicts for it.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { planOutcome } from '../../lib/batch/plan.js';
import { mulberry32 } from '../../lib/common/random.js';
import { limiterKey, quotaKey } from '../../lib/limiters/keys.js';
import { DynamoLimiterStore } from '../../lib/limiters/dynamo/store.js';
import { limiter } from '../../lib/limiters/limiter.js';
import { shardCount } from '../../lib/limiters/shards.js';
import { resolveLimiterSpec } from '../../lib/limiters/spec.js';
import { checkQuotas } from '../../lib/quota/check.js';
import { resolveQuotas } from '../../lib/quota/config.js';
import { normalizeJob } from '../../lib/job/model.js';
import { BATCH_JOB_SHARDS, FORMER_SET_SHARDS, SORTED_SETS, fnv1a, setPartitionKey } from '../../lib/storage/keys.js';
import { toItem } from '../../lib/storage/set-items.js';
import { LOCAL_IDENTITY, startEmulators } from '../../local/emulators.js';
import { startDynamoFront, type DynamoFront } from '../../local/dynamodb/front.js';
import { AWS_PARTITION_WRITE_UNITS } from '../../local/dynamodb/partition-limit.js';
import { round } from '../lib/stats.js';

/** The scenarios: each a hot item of the unsharded design. */
export const SCALE_SCENARIOS = ['batch', 'quota', 'limiter', 'scheduled'] as const;
export type ScaleScenario = (typeof SCALE_SCENARIOS)[number];

export interface ScaleParameters {
  /** The rate the model stands for. */
  readonly awsJobsPerSecond: number;
  /** Tenants the enqueues are spread over (each with a quota of its own). */
  readonly tenants: number;
  /** Real seconds each scenario's runs last (longer where fewer jobs a second would leave each key a small sample). */
  readonly realSeconds: Readonly<Record<ScaleScenario, number>>;
  /** Jobs a real second each scenario runs at (its writes per job decide what DynamoDB Local keeps up with). */
  readonly localJobsPerSecond: Readonly<Record<ScaleScenario, number>>;
  /** Requests in flight at most. */
  readonly inFlight: number;
  /** The partition limit's burst, in model seconds. */
  readonly burstSeconds: number;
}

export const SCALE_DEFAULTS: ScaleParameters = {
  awsJobsPerSecond: 10_000,
  tenants: 100_000,
  realSeconds: { batch: 15, quota: 30, limiter: 15, scheduled: 40 },
  localJobsPerSecond: { batch: 250, quota: 120, limiter: 250, scheduled: 120 },
  inFlight: 24,
  burstSeconds: 0.02,
};

/** A key may take at most this share of a partition (issue 23: "no item hotter than half a partition"). */
export const HOT_SHARE = 0.5;

export interface ScaleRun {
  readonly scenario: ScaleScenario;
  readonly design: Design;
  /** What the hot item is spread over in this design. */
  readonly layout: string;
  readonly jobs: number;
  /** Jobs a real second reached. */
  readonly localJobsPerSecond: number;
  /** What they stand for: jobs a model second. */
  readonly modeledJobsPerSecond: number;
  readonly modeledSeconds: number;
  /** Partition keys the run wrote. */
  readonly keys: number;
  /** Requests (or batch items) the partition limit refused. */
  readonly throttled: number;
  /** The hottest key's write units asked for (let through or refused) per model second, over the run. */
  readonly hottestUnitsPerSecond: number;
  /** What the model predicts for the hottest key at the modeled rate (an even spread over the shards). */
  readonly predictedUnitsPerSecond: number;
}

export interface ScaleResult {
  readonly parameters: ScaleParameters;
  readonly partitionWriteUnits: number;
  readonly runs: readonly ScaleRun[];
  /** Every run of the design now below half a partition without a throttle, every run of the one before throttled. */
  readonly pass: boolean;
}

/** The specs at AWS's scale: a queue quota and a shared limiter above the modeled rate, so that every job is admitted. */
const QUEUE_QUOTA = { limit: 12_000, per: 'second', burst: 12_000 } as const;
const TENANT_QUOTA = { limit: 60, per: 'minute' } as const;
const SHARED_LIMITER = { type: 'bucket', limit: 12_000, per: 'second' } as const;

/** Runs every scenario both ways and reports what the partition limit saw. */
export async function measureScale(parameters: ScaleParameters, log: (line: string) => void = () => undefined): Promise<ScaleResult> {
  const emulators = await startEmulators();
  const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };
  const direct = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: LOCAL_IDENTITY.region, credentials });
  try {
    const table = `scale-${randomUUID().slice(0, 8)}`;
    await direct.send(new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }));
    const runs: ScaleRun[] = [];
    for (const scenario of SCALE_SCENARIOS) {
      for (const design of DESIGNS) {
        const run = await runOnce(scenario, design, table, emulators.endpoints.dynamodb, parameters);
        log(`scale ${scenario} ${design}: ${run.modeledJobsPerSecond} jobs/s modeled, hottest key ${run.hottestUnitsPerSecond} units/s (predicted ${run.predictedUnitsPerSecond}), ${run.throttled} throttled`);
        runs.push(run);
      }
    }
    const halfPartition = AWS_PARTITION_WRITE_UNITS * HOT_SHARE;
    const pass = runs.every((run) => (run.design === 'now' ? run.throttled === 0 && run.hottestUnitsPerSecond <= halfPartition : run.throttled > 0));
    return { parameters, partitionWriteUnits: AWS_PARTITION_WRITE_UNITS, runs, pass };
  } finally {
    direct.destroy();
    await emulators.stop();
  }
}

/** Hopper's design now, and the one before its shards. */
export const DESIGNS = ['now', 'before'] as const;
export type Design = (typeof DESIGNS)[number];

async function runOnce(scenario: ScaleScenario, design: Design, table: string, target: string, parameters: ScaleParameters): Promise<ScaleRun> {
  const localRate = parameters.localJobsPerSecond[scenario];
  const factor = localRate / parameters.awsJobsPerSecond;
  const startedMs = Date.now();
  // Model time runs `factor` as fast as real time, from now on.
  const modelNow = () => Math.floor(startedMs + (Date.now() - startedMs) * factor);
  const front: DynamoFront = await startDynamoFront({
    port: 0, target, region: LOCAL_IDENTITY.region, accountId: LOCAL_IDENTITY.accountId,
    credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    limit: { writeUnitsPerSecond: AWS_PARTITION_WRITE_UNITS, burstSeconds: parameters.burstSeconds },
    now: modelNow,
  });
  // One attempt per request: a throttle is counted, not retried away.
  const client = new DynamoDBClient({ endpoint: front.url, region: LOCAL_IDENTITY.region, credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey }, maxAttempts: 1 });
  try {
    const job = jobOf(scenario, design, table, client, modelNow, parameters);
    const jobs = await drive(localRate, parameters.realSeconds[scenario], parameters.inFlight, job.run);
    const realSeconds = (Date.now() - startedMs) / 1000;
    const modeledSeconds = realSeconds * factor;
    const report = front.report();
    const hottest = report.reduce((max, entry) => Math.max(max, entry.offeredUnits), 0);
    const modeledJobsPerSecond = jobs / modeledSeconds;
    return {
      scenario,
      design,
      layout: job.shards === 1 ? 'one key' : `${job.shards} keys`,
      jobs,
      localJobsPerSecond: round(jobs / realSeconds, 1),
      modeledJobsPerSecond: Math.round(modeledJobsPerSecond),
      modeledSeconds: round(modeledSeconds, 3),
      keys: report.length,
      throttled: report.reduce((sum, entry) => sum + entry.throttled, 0),
      hottestUnitsPerSecond: Math.round(hottest / modeledSeconds),
      predictedUnitsPerSecond: Math.round((modeledJobsPerSecond * job.unitsPerJob) / job.shards),
    };
  } finally {
    client.destroy();
    await front.close();
  }
}

interface ModelJob {
  /** One job's writes to the hot item. */
  run(index: number): Promise<void>;
  /** Write units one job spends on the hot item. */
  readonly unitsPerJob: number;
  /** Items the hot item is spread over. */
  readonly shards: number;
}

function jobOf(scenario: ScaleScenario, design: Design, table: string, client: DynamoDBClient, now: () => number, parameters: ScaleParameters): ModelJob {
  const random = mulberry32(23);
  const store = new DynamoLimiterStore({ tableName: table, client });
  const ignore = () => undefined;
  switch (scenario) {
    case 'batch': {
      // One batch fed every job: each job's outcome is one write of its job item.
      const bid = `scale-${randomUUID().slice(0, 8)}`;
      return {
        unitsPerJob: 1,
        shards: design === 'now' ? BATCH_JOB_SHARDS : 1,
        run: async (index) => {
          const input = planOutcome(bid, `job-${index}`, 'succeeded', { tableName: table, now: new Date(now()), ttl: 0 });
          // Before the shards, every job item was under the batch's own key.
          if (design === 'before' && input.Key?.pk?.S !== undefined) input.Key.pk.S = `batch#${bid}`;
          await client.send(new UpdateItemCommand(input)).then(ignore, ignore);
        },
      };
    }
    case 'quota': {
      // Every enqueue takes one point from the queue's quota and one from its tenant's.
      const quotas = resolveQuotas({ default: TENANT_QUOTA, queues: { email: QUEUE_QUOTA } });
      const bucket = quotas.queues.get('email');
      if (bucket === undefined) throw new Error('no queue quota');
      return {
        unitsPerJob: 1,
        shards: design === 'now' ? shardCount(bucket) : 1,
        run: async () => {
          const tenant = `tenant-${Math.floor(random() * parameters.tenants)}`;
          if (design === 'now') {
            await checkQuotas(quotas, { tenant, queue: 'email', jobs: 1 }, { store, now, random }).then(ignore, ignore);
            return;
          }
          // Before the shards: the tenant's bucket, then the queue's one item.
          const tenantBucket = quotas.default;
          if (tenantBucket !== undefined) await store.acquire({ key: quotaKey('tenant', tenant), spec: tenantBucket, nowMs: now(), token: 'quota', cost: 1 }).then(ignore, ignore);
          await store.acquire({ key: quotaKey('queue', 'email'), spec: bucket, nowMs: now(), token: 'quota', cost: 1 }).then(ignore, ignore);
        },
      };
    }
    case 'scheduled': {
      // Every job scheduled: its entry put into its shard of the scheduled set, then deleted by the sweep.
      const shards = design === 'now' ? SORTED_SETS.scheduled.shards : FORMER_SET_SHARDS.scheduled ?? 1;
      return {
        unitsPerJob: 2,
        shards,
        run: async (index) => {
          const job = normalizeJob({ jobtype: 'Remind', args: [index], jid: `scale-${index}-${randomUUID().slice(0, 8)}` }, { now: new Date(now()) });
          const item = toItem('scheduled', { job, epochMs: now() + 3_600_000 });
          // Before, the set had 16 shards: the jid's shard among them.
          if (design === 'before') item.pk = { S: setPartitionKey('scheduled', fnv1a(job.jid) % shards) };
          await client.send(new PutItemCommand({ TableName: table, Item: item })).then(ignore, ignore);
          await client.send(new DeleteItemCommand({ TableName: table, Key: { pk: item.pk ?? { S: '' }, sk: item.sk ?? { S: '' } } })).then(ignore, ignore);
        },
      };
    }
    case 'limiter': {
      // A rate limiter every job takes a permit from.
      const spec = resolveLimiterSpec('shared', SHARED_LIMITER);
      const shared = limiter('shared', SHARED_LIMITER, { store, now, random });
      return {
        unitsPerJob: 1,
        shards: design === 'now' ? shardCount(spec) : 1,
        run: async () => {
          if (design === 'now') {
            await shared.acquire().then(ignore, ignore);
            return;
          }
          await store.acquire({ key: limiterKey('shared', spec.type), spec, nowMs: now(), token: 'unused', cost: 1 }).then(ignore, ignore);
        },
      };
    }
  }
}

/** Starts `run(i)` at `rate` a second for `seconds`, at most `inFlight` at once; resolves with how many ran. */
async function drive(rate: number, seconds: number, inFlight: number, run: (index: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  const total = Math.round(rate * seconds);
  const running = new Set<Promise<void>>();
  for (let index = 0; index < total; index += 1) {
    const due = started + (index * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    while (running.size >= inFlight) await Promise.race(running);
    const task = run(index).finally(() => running.delete(task));
    running.add(task);
  }
  await Promise.all(running);
  return total;
}
