/**
 * The stats recorder a worker or the retry function keeps for its whole instance: counts each
 * invocation's jobs in memory and, at the end of an invocation, writes at most one rollup item when
 * a flush is due (rollup.ts). The DynamoDB SDK is loaded on the first write, so a function whose
 * stats are off never loads it.
 */
import type { UpdateItemCommand, UpdateItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { dynamoClientFromEnv } from '../aws';
import { ENV, type Env } from '../env';
import type { Logger } from '../worker/logger';
import { rollupUpdate, StatsAccumulator, type StatsSample } from './rollup';

/** The one command a recorder sends; a `DynamoDBClient` satisfies it. */
export interface StatsWriterClient {
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
}

/** Counts jobs and writes them now and then. */
export interface StatsRecorder {
  /** Counts one invocation's jobs (no I/O). */
  record(sample: StatsSample): void;
  /** Writes one rollup if a flush is due; never throws (a failed write keeps the counts for the next). */
  flush(nowMs: number, logger: Logger): Promise<void>;
}

/** A recorder that counts nothing and writes nothing (stats off). */
export const NO_STATS: StatsRecorder = { record: () => undefined, flush: async () => undefined };

/** Value of `HOPPER_STATS` that turns recording on (the construct sets it unless `stats: false`). */
export const STATS_ON = 'on';

/** Options of {@link createStatsRecorder}. */
export interface StatsRecorderOptions {
  readonly tableName: string;
  /** @default - a DynamoDB client for `env`, made on the first write */
  readonly client?: StatsWriterClient;
  /** @default process.env */
  readonly env?: Env;
}

/** A recorder writing to `tableName`. */
export function createStatsRecorder(options: StatsRecorderOptions): StatsRecorder {
  const accumulator = new StatsAccumulator();
  let client: Promise<StatsWriterClient> | undefined = options.client === undefined ? undefined : Promise.resolve(options.client);
  const getClient = (): Promise<StatsWriterClient> => {
    client ??= dynamoClientFromEnv(options.env ?? process.env);
    return client;
  };
  return {
    record: (sample) => accumulator.add(sample),
    async flush(nowMs, logger) {
      if (!accumulator.due(nowMs)) return;
      const rollup = accumulator.take();
      if (rollup === undefined) return;
      try {
        const [{ UpdateItemCommand: Command }, dynamo] = await Promise.all([import('@aws-sdk/client-dynamodb'), getClient()]);
        await dynamo.send(new Command({ TableName: options.tableName, ...rollupUpdate(rollup) }));
      } catch (error) {
        // Stats must never fail a batch: keep the counts and try again on a later invocation.
        accumulator.restore(rollup);
        logger.warn('could not write stats; kept for the next invocation', { error });
      }
    },
  };
}

/**
 * The recorder the environment asks for: on when `HOPPER_STATS` is `on` and `HOPPER_STATE_TABLE`
 * is set, otherwise {@link NO_STATS}.
 */
export function statsRecorderFromEnv(env: Env): StatsRecorder {
  const tableName = env[ENV.stateTable];
  if (env[ENV.stats] !== STATS_ON || tableName === undefined || tableName === '') return NO_STATS;
  return createStatsRecorder({ tableName, env });
}
