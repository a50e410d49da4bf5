/**
 * The stats recorder a worker or the retry function keeps for its whole instance: counts each
 * invocation's jobs and cohort events in memory and, at the end of an invocation, writes when a
 * flush is due: one rollup item (rollup.ts) and every pending cohort (cohort.ts), one `UpdateItem`
 * each. Flushes spend a write budget of one write per {@link STATS_ROLLUP}.flushMinJobs jobs the
 * instance handled (after its first flush, which is at once), so under load an instance writes at
 * most 0.001 times per job; a trickle is
 * written once its oldest count is ten seconds old. The DynamoDB SDK is loaded on the first write,
 * so a function whose stats are off never loads it.
 */
import type { DeleteItemCommand, DeleteItemCommandOutput, UpdateItemCommand, UpdateItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { dynamoClientOf } from '../aws/clients.js';
import { busyKey } from '../storage/keys.js';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import type { Logger } from '../observability/logger.js';
import { COHORT_ATTRIBUTES, CohortAccumulator, cohortUpdate, raiseMaxUpdate, type CohortEvent, type ItemUpdate, type PendingCohort } from './cohort.js';
import { BusyBoard, busyUpdate, dueReports } from './busy.js';
import { rollupUpdate, STATS_ROLLUP, StatsAccumulator, type StatsSample } from './rollup.js';

/** The one command a recorder sends; a `DynamoDBClient` satisfies it. */
export interface StatsWriterClient {
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
  send(command: DeleteItemCommand): Promise<DeleteItemCommandOutput>;
}

/** Counts jobs and writes them now and then. */
export interface StatsRecorder {
  /** Counts one invocation's processed and failed jobs of one writer (no I/O). */
  record(sample: StatsSample): void;
  /** Counts one event of the cohort of the minute `minuteMs` (no I/O). */
  recordCohort(minuteMs: number, event: CohortEvent, atMs: number): void;
  /** Adds `jobs` handled by an invocation to the write budget (one write per `flushMinJobs` jobs). */
  countJobs(jobs: number): void;
  /** Writes if a flush is due; never throws (a failed write keeps the counts for the next). */
  flush(nowMs: number, logger: Logger): Promise<void>;
  /** The jobs the instance runs now (busy.ts). */
  readonly busy: BusyBoard;
  /**
   * Writes the instance's busy reports that are due (busy.ts: long-running jobs), and deletes those
   * of queues with none left; never throws (a failed write is tried again on the next call).
   */
  reportBusy(nowMs: number, logger: Logger): Promise<void>;
}

/** A recorder that counts nothing and writes nothing (stats off). */
export const NO_STATS: StatsRecorder = {
  record: () => undefined,
  recordCohort: () => undefined,
  countJobs: () => undefined,
  flush: async () => undefined,
  busy: new BusyBoard(),
  reportBusy: async () => undefined,
};

/** Value of `HOPPER_STATS` that turns recording on (the construct sets it unless `stats: false`). */
export { STATS_ON } from '../config/env.js';

/** Options of {@link createStatsRecorder}. */
export interface StatsRecorderOptions {
  readonly tableName: string;
  /** @default - a DynamoDB client for `config`, made on the first write */
  readonly client?: StatsWriterClient;
  /** @default - the configuration of process.env */
  readonly config?: HopperConfig;
  /**
   * The name of this function instance in busy reports.
   * @default - its CloudWatch Logs log stream (`AWS_LAMBDA_LOG_STREAM_NAME`), one per execution environment
   */
  readonly instance?: string;
}

/** A recorder writing to `tableName`. */
export function createStatsRecorder(options: StatsRecorderOptions): StatsRecorder {
  const rollups = new StatsAccumulator();
  const cohorts = new CohortAccumulator();
  let cohortsSinceMs: number | undefined;
  const budget = { jobs: 0, writes: 0 };
  let client: Promise<StatsWriterClient> | undefined = options.client === undefined ? undefined : Promise.resolve(options.client);
  const getClient = (): Promise<StatsWriterClient> => {
    client ??= dynamoClientOf(options.config ?? HopperConfig.of());
    return client;
  };
  const due = (nowMs: number): boolean => {
    const writes = (rollups.size > 0 ? 1 : 0) + cohorts.size;
    if (writes === 0) return false;
    // A new instance writes its first counts at once, so activity shows up without waiting for a
    // budget or a minute; it is one flush in an instance's life.
    if (budget.writes === 0) return true;
    if ((budget.writes + writes) * STATS_ROLLUP.flushMinJobs <= budget.jobs) return true;
    const oldest = Math.min(rollups.oldestMs ?? nowMs, cohortsSinceMs ?? nowMs);
    return nowMs - oldest >= STATS_ROLLUP.flushMaxAgeMs;
  };
  const send = async (update: ItemUpdate & { ReturnValues?: 'UPDATED_NEW' }): Promise<UpdateItemCommandOutput> => {
    const [{ UpdateItemCommand: Command }, dynamo] = await Promise.all([import('@aws-sdk/client-dynamodb'), getClient()]);
    const output = await dynamo.send(new Command({ TableName: options.tableName, ...update }));
    budget.writes += 1;
    return output;
  };
  const writeCohort = async (cohort: PendingCohort, nowMs: number): Promise<void> => {
    const output = await send({ ...cohortUpdate(cohort), ReturnValues: 'UPDATED_NEW' });
    const stored = output.Attributes?.[COHORT_ATTRIBUTES.max]?.N;
    const raise = raiseMaxUpdate(cohort, stored === undefined ? undefined : Number(stored));
    if (raise === undefined) return;
    // Only a new maximum costs this second write; another writer's higher one wins the condition.
    // The counts are written already, so a failure here must not restore them: only the maximum
    // goes back, for the next flush to raise again.
    await send(raise).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return;
      cohorts.restore({ minuteMs: cohort.minuteMs, started: 0, done: 0, dead: 0, failed: 0, buckets: new Map(), max: cohort.max });
      cohortsSinceMs = Math.min(cohortsSinceMs ?? nowMs, nowMs);
    });
  };
  const busy = new BusyBoard();
  const instance = options.instance ?? instanceName((options.config ?? HopperConfig.of()).env);
  // Queue → epoch ms of this instance's last written busy report.
  const reported = new Map<string, number>();
  let reporting: Promise<void> | undefined;
  const reportBusy = async (nowMs: number, logger: Logger): Promise<void> => {
    const due = dueReports(busy.longRunning(nowMs), reported, nowMs);
    const results = await Promise.allSettled(due.map(async ({ queue, jobs }) => {
      const [sdk, dynamo] = await Promise.all([import('@aws-sdk/client-dynamodb'), getClient()]);
      if (jobs.length === 0) {
        // Cleared by deleting it: the partition holds only live reports, and those of killed instances until their TTL.
        const key = busyKey(queue, instance);
        await dynamo.send(new sdk.DeleteItemCommand({ TableName: options.tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
        reported.delete(queue);
        return;
      }
      await dynamo.send(new sdk.UpdateItemCommand({ TableName: options.tableName, ...busyUpdate(queue, instance, jobs, nowMs) }));
      reported.set(queue, nowMs);
    }));
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) logger.warn('could not write the busy report; tried again on the next check', { error: failure.reason });
  };
  return {
    busy,
    reportBusy(nowMs, logger) {
      // One report at a time: a check while one is written waits for it instead of writing twice.
      reporting = (reporting ?? Promise.resolve()).then(() => reportBusy(nowMs, logger));
      return reporting;
    },
    record: (sample) => rollups.add(sample),
    recordCohort(minuteMs, event, atMs) {
      cohorts.add(minuteMs, event);
      cohortsSinceMs = Math.min(cohortsSinceMs ?? atMs, atMs);
    },
    countJobs(jobs) {
      budget.jobs += jobs;
    },
    async flush(nowMs, logger) {
      if (!due(nowMs)) return;
      const rollup = rollups.take();
      const pending = cohorts.takeAll();
      cohortsSinceMs = undefined;
      const results = await Promise.allSettled([
        ...(rollup === undefined ? [] : [send(rollupUpdate(rollup)).catch((error: unknown) => {
          rollups.restore(rollup);
          throw error;
        })]),
        ...pending.map((cohort) => writeCohort(cohort, nowMs).catch((error: unknown) => {
          cohorts.restore(cohort);
          cohortsSinceMs = Math.min(cohortsSinceMs ?? nowMs, nowMs);
          throw error;
        })),
      ]);
      const failure = results.find((result) => result.status === 'rejected');
      // Stats must never fail a batch: keep the counts and try again on a later invocation.
      if (failure !== undefined) logger.warn('could not write stats; kept for the next invocation', { error: failure.reason });
    },
  };
}

/** This function instance's name: its log stream on Lambda, the process elsewhere. */
function instanceName(env: Env): string {
  const stream = env.AWS_LAMBDA_LOG_STREAM_NAME;
  return stream !== undefined && stream !== '' ? stream : `pid-${process.pid}`;
}

/**
 * The recorder `config` asks for: on when `HOPPER_STATS` is `on` and `HOPPER_STATE_TABLE` is set,
 * otherwise {@link NO_STATS}.
 */
export function statsRecorderOf(config: HopperConfig): StatsRecorder {
  return config.statsOn ? createStatsRecorder({ tableName: config.stateTable, config }) : NO_STATS;
}
