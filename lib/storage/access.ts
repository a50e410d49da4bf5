/**
 * Lazy access to the state table for features that need it (batches, unique locks, the scheduled
 * set from a worker). Nothing is loaded until a feature asks: the modules behind it load the
 * DynamoDB SDK through a dynamic import, so a plain job never pays for them.
 */
import { dynamoClientOf } from '../aws/clients.js';
import type { BatchStore } from '../batch/store.js';
import type { FlowStore } from '../flow/store.js';
import { lazyClient, type StateCommands } from '../aws/dynamo.js';
import type { ScheduledSetWriter } from '../enqueue/enqueue.js';
import { DEAD_TTL_DAYS } from '../config/env.js';
import type { HopperConfig } from '../config/hopper-config.js';
import type { UniqueLocks } from '../unique/store.js';
import type { DebounceItems } from '../debounce/store.js';
import type { StartMarks } from './start-marks.js';
import type { OnceSteps } from './once-steps.js';
import type { JobStates } from './job-states.js';
import type { Iterations } from './iterations.js';
import type { Job } from '../job/model.js';
import type { EntryReason } from './set-items.js';

/** The state-table features, each made on first use. */
export interface StateAccess {
  batchStore(): Promise<BatchStore>;
  /** Flow items (lib/flow/store.ts). */
  flowStore(): Promise<FlowStore>;
  uniqueLocks(): Promise<UniqueLocks>;
  /** The items of debounced jobs (lib/debounce/store.ts). */
  debounceItems(): Promise<DebounceItems>;
  /** Start marks (./start-marks.ts): written by workers, read by the retry function. */
  startMarks(): Promise<StartMarks>;
  /** The steps of `ctx.once` (./once-steps.ts). */
  onceSteps(): Promise<OnceSteps>;
  /** Tracked jobs' states (./job-states.ts). */
  jobStates(): Promise<JobStates>;
  /** Iterating jobs' cursors (./iterations.ts). */
  iterations(): Promise<Iterations>;
  /** Writes the scheduled set with the lazily loaded SDK (for workers; `Client` uses StateTable). */
  scheduledSet(): Promise<ScheduledSetWriter>;
  /** Puts a job into the dead set with a reason, kept for the dead set's retention (`HOPPER_DEAD_TTL_DAYS`). */
  deadSet(): Promise<{ bury(job: Job, reason: EntryReason, nowMs: number): Promise<void> }>;
}

/**
 * State-table access for `config` (`HOPPER_STATE_TABLE`), through `dynamo` or a client for `config`.
 * A failed load is forgotten, so the next call tries again.
 */
export function stateAccess(config: HopperConfig, dynamo?: StateCommands, now: () => Date = () => new Date()): StateAccess {
  const dynamoClient = lazyClient(dynamo ?? (() => dynamoClientOf(config)));
  const once = <T>(make: () => Promise<T>): (() => Promise<T>) => {
    let made: Promise<T> | undefined;
    return () => {
      made ??= make();
      made.catch(() => { made = undefined; });
      return made;
    };
  };
  return {
    batchStore: once(async () => {
      const tableName = config.stateTable;
      const { BatchStore: Store } = await import('../batch/store.js');
      return new Store({ tableName, client: dynamoClient, now });
    }),
    flowStore: once(async () => {
      const tableName = config.stateTable;
      const { FlowStore: Store } = await import('../flow/store.js');
      return new Store({ tableName, client: dynamoClient, now });
    }),
    uniqueLocks: once(async () => {
      const tableName = config.stateTable;
      const { UniqueLocks: Locks } = await import('../unique/store.js');
      return new Locks({ tableName, client: dynamoClient, now });
    }),
    debounceItems: once(async () => {
      const tableName = config.stateTable;
      const { DebounceItems: Items } = await import('../debounce/store.js');
      return new Items({ tableName, client: dynamoClient, now });
    }),
    startMarks: once(async () => {
      const tableName = config.stateTable;
      const { StartMarks: Marks } = await import('./start-marks.js');
      return new Marks({ tableName, client: dynamoClient, now });
    }),
    onceSteps: once(async () => {
      const tableName = config.stateTable;
      const { OnceSteps: Steps } = await import('./once-steps.js');
      return new Steps({ tableName, client: dynamoClient, now, ttlDays: onceStepDays(config) });
    }),
    jobStates: once(async () => {
      const tableName = config.stateTable;
      const { JobStates: States } = await import('./job-states.js');
      return new States({ tableName, client: dynamoClient, now });
    }),
    iterations: once(async () => {
      const tableName = config.stateTable;
      const { Iterations: Cursors } = await import('./iterations.js');
      // Kept as long as its job can run again, as a step of ctx.once is.
      return new Cursors({ tableName, client: dynamoClient, now, ttlDays: onceStepDays(config) });
    }),
    scheduledSet: once(async () => {
      const tableName = config.stateTable;
      const [{ loadDynamoSdk }, { toItem }] = await Promise.all([import('../aws/dynamo.js'), import('./set-items.js')]);
      return {
        async putScheduled(job, dueMs) {
          const { PutItemCommand } = await loadDynamoSdk();
          await (await dynamoClient()).send(new PutItemCommand({ TableName: tableName, Item: toItem('scheduled', { job, epochMs: dueMs }) }));
        },
      };
    }),
    deadSet: once(async () => {
      const tableName = config.stateTable;
      const days = deadSetDays(config);
      const [{ loadDynamoSdk }, { toItem }] = await Promise.all([import('../aws/dynamo.js'), import('./set-items.js')]);
      return {
        async bury(job, reason, nowMs) {
          const { PutItemCommand } = await loadDynamoSdk();
          const item = toItem('dead', { job, epochMs: nowMs, reason, ttl: Math.floor(nowMs / 1000) + days * 86_400 });
          await (await dynamoClient()).send(new PutItemCommand({ TableName: tableName, Item: item }));
        },
      };
    }),
  };
}

/** Extra days a done `ctx.once` step is kept beyond the dead set's retention. */
export const ONCE_STEP_EXTRA_DAYS = 30;

/**
 * Days a done `ctx.once` step is kept: as long as its job can run again — its retries (about 21
 * days with Sidekiq's 25) and then the dead set, from which it can be retried by hand.
 */
function onceStepDays(config: HopperConfig): number {
  return deadSetDays(config) + ONCE_STEP_EXTRA_DAYS;
}

/** Days a dead job is kept (`HOPPER_DEAD_TTL_DAYS`; its default when 0). */
function deadSetDays(config: HopperConfig): number {
  return config.deadTtlDays > 0 ? config.deadTtlDays : DEAD_TTL_DAYS;
}
