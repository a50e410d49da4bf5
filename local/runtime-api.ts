/**
 * What a running local stack offers its user (tests, `hopper dev`): its resources, endpoints and
 * controls. Built by `startLocal()` in runtime.ts.
 */
import { HopperError } from '../lib/errors/base.js';
import type { Clock } from './clock.js';
import { localAwsEnv, type EmulatorEndpoints } from './emulators.js';
import type { FunctionPool, Invocation } from './host/function-pool.js';
import type { MappingHandle } from './http/lambda-api.js';
import { findFunction, type Plan } from './resources/plan.js';
import type { LocalScheduler, ScheduleState } from './schedules/scheduler.js';
import type { PartitionLimit, PartitionReport } from './dynamodb/partition-limit.js';

/** A queue of the running stack. */
export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** A table of the running stack. */
export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly streamArn: string | undefined;
}

/** A function of the running stack. */
export interface LocalFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Its function URL, if it has one. */
  readonly url: string | undefined;
}

/** An event source mapping of the running stack. */
export interface LocalMapping {
  readonly logicalId: string;
  readonly uuid: string;
  readonly kind: 'sqs' | 'dynamodb';
  readonly functionLogicalId: string;
  /** Queue or table logical id. */
  readonly sourceLogicalId: string;
  readonly enabled: boolean;
}

/** Selects a mapping: its logical id or UUID, or the function and source (logical ids or names). */
export type MappingSelector = string | { readonly function: string; readonly source: string };

/** Endpoints of a running runtime. */
export interface LocalEndpoints extends EmulatorEndpoints {
  /** The local Lambda API (and catch-all for services that are not emulated). */
  readonly lambda: string;
}

/** A running local stack. */
/** What a partition limit counted (local/dynamodb/partition-limit.ts). */
export interface PartitionCounts {
  readonly limit: PartitionLimit;
  /** Per partition key: units let through, writes throttled, the busiest second; busiest first. */
  report(): PartitionReport[];
  /** Starts counting afresh. */
  reset(): void;
}

export interface LocalRuntime {
  readonly stackName: string;
  readonly endpoints: LocalEndpoints;
  /** Environment variables that point AWS SDKs and CLIs at this runtime. */
  readonly env: Readonly<Record<string, string>>;
  readonly queues: readonly LocalQueue[];
  readonly tables: readonly LocalTable[];
  readonly functions: readonly LocalFunction[];
  /** The stack's outputs, resolved to local values. */
  readonly outputs: Readonly<Record<string, string>>;
  /** What the runtime skips, and why. */
  readonly warnings: readonly string[];
  /** Milliseconds from the first line of startLocal until ready. */
  readonly startupMs: number;
  /** Event source mappings and whether each is enabled now. */
  mappings(): LocalMapping[];
  /** Schedules and their next fire times. */
  schedules(): ScheduleState[];
  /** URL of a queue by logical id or name. */
  queueUrl(queue: string): string;
  /** Name of a table by logical id or name. */
  tableName(table: string): string;
  /** URL of a function's function URL, by the function's or the URL's logical id or name. */
  functionUrl(fn: string): string;
  /** Enables or disables (pauses) an event source mapping. */
  setMappingEnabled(selector: MappingSelector, enabled: boolean): void;
  /** Invokes a function synchronously, as `lambda invoke` would. */
  invoke(fn: string, event: unknown): Promise<Invocation>;
  /** Fires a schedule now (a disabled one too). */
  triggerSchedule(name: string): void;
  /** Enables or disables a schedule, as `aws scheduler update-schedule --state` would. */
  setScheduleEnabled(name: string, enabled: boolean): void;
  /** Current clock offset. */
  readonly clockOffsetMs: number;
  /** Shifts "now" for schedules and functions. */
  setClockOffset(offsetMs: number): void;
  /** Process ids of every child process the runtime runs now (DynamoDB Local, function instances). */
  pids(): number[];
  /**
   * Write units per partition key and the writes throttled, when the runtime runs with a
   * partition limit (`partitionLimit`); undefined without one.
   */
  readonly partitions: PartitionCounts | undefined;
  /** Stops everything and removes the synthesized assembly; safe to call more than once. */
  stop(): Promise<void>;
}

/** The parts of a running stack that {@link runtimeApi} exposes. */
export interface RuntimeParts {
  readonly plan: Plan;
  readonly pools: ReadonlyMap<string, FunctionPool>;
  readonly mappingHandles: readonly (MappingHandle & { readonly functionLogicalId: string; readonly sourceLogicalId: string })[];
  readonly scheduler: LocalScheduler;
  readonly clock: Clock;
  readonly endpoints: LocalEndpoints;
  readonly cleanups: () => Promise<void>;
  readonly allPids: () => number[];
  readonly partitions: PartitionCounts | undefined;
  readonly startupMs: number;
  readonly findPool: (nameOrArn: string) => FunctionPool | undefined;
}

/** The user-facing API over a running stack's parts. */
export function runtimeApi(parts: RuntimeParts): LocalRuntime {
  const { plan, mappingHandles, scheduler, clock } = parts;
  const urlOf = (logicalId: string) => {
    const spec = plan.functions.find((fn) => fn.logicalId === logicalId);
    return plan.functionUrls.find((url) => spec !== undefined && findFunction([spec], url.targetFunction) !== undefined)?.url;
  };
  const functions = plan.functions.map((fn) => ({ logicalId: fn.logicalId, name: fn.name, arn: fn.arn, url: urlOf(fn.logicalId) }));
  const queues = plan.queues.map(({ logicalId, name, url, arn }) => ({ logicalId, name, url, arn }));
  const tables = plan.tables.map(({ logicalId, name, arn, streamArn }) => ({ logicalId, name, arn, streamArn }));
  const matches = (candidate: { readonly logicalId: string; readonly name: string }, key: string) => candidate.logicalId === key || candidate.name === key;
  const fnLogicalId = (key: string) => functions.find((fn) => matches(fn, key))?.logicalId;
  let stopping: Promise<void> | undefined;
  return {
    stackName: plan.stackName,
    endpoints: parts.endpoints,
    env: { ...localAwsEnv(parts.endpoints), AWS_ENDPOINT_URL_LAMBDA: parts.endpoints.lambda, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: parts.endpoints.lambda },
    queues,
    tables,
    functions,
    outputs: plan.outputs,
    warnings: plan.warnings,
    startupMs: parts.startupMs,
    partitions: parts.partitions,
    mappings: () =>
      mappingHandles.map((handle) => ({
        logicalId: handle.spec.logicalId,
        uuid: handle.spec.uuid,
        kind: handle.spec.kind,
        functionLogicalId: handle.functionLogicalId,
        sourceLogicalId: handle.sourceLogicalId,
        enabled: handle.isEnabled,
      })),
    schedules: () => scheduler.list(),
    queueUrl(queue) {
      const found = queues.find((candidate) => matches(candidate, queue));
      if (found === undefined) throw new HopperError(`the stack has no queue ${queue}; its queues are: ${queues.map((q) => q.logicalId).join(', ') || 'none'}`);
      return found.url;
    },
    tableName(table) {
      const found = tables.find((candidate) => matches(candidate, table));
      if (found === undefined) throw new HopperError(`the stack has no table ${table}; its tables are: ${tables.map((t) => t.logicalId).join(', ') || 'none'}`);
      return found.name;
    },
    functionUrl(fn) {
      const byUrl = plan.functionUrls.find((url) => url.logicalId === fn);
      const byFunction = functions.find((candidate) => matches(candidate, fn))?.url;
      const found = byUrl?.url ?? byFunction;
      if (found === undefined) throw new HopperError(`the stack has no function URL for ${fn}`);
      return found;
    },
    setMappingEnabled(selector, enabled) {
      const found = mappingHandles.filter((handle) => {
        if (typeof selector === 'string') return handle.spec.logicalId === selector || handle.spec.uuid === selector;
        const sourceMatches = handle.sourceLogicalId === selector.source || queues.some((q) => q.logicalId === handle.sourceLogicalId && (q.name === selector.source || q.arn === selector.source)) || tables.some((t) => t.logicalId === handle.sourceLogicalId && t.name === selector.source);
        return handle.functionLogicalId === fnLogicalId(selector.function) && sourceMatches;
      });
      if (found.length === 0) throw new HopperError(`no event source mapping matches ${JSON.stringify(selector)}`);
      for (const handle of found) handle.setEnabled(enabled);
    },
    async invoke(fn, event) {
      const pool = parts.findPool(fnLogicalId(fn) ?? fn);
      if (pool === undefined) throw new HopperError(`the stack has no function ${fn}`);
      return pool.invoke(event);
    },
    triggerSchedule(name) {
      if (!scheduler.trigger(name)) throw new HopperError(`the stack has no schedule ${name}`);
    },
    setScheduleEnabled(name, enabled) {
      if (!scheduler.setEnabled(name, enabled)) throw new HopperError(`the stack has no schedule ${name}`);
    },
    get clockOffsetMs() {
      return clock.offsetMs;
    },
    setClockOffset(offsetMs) {
      clock.setOffset(offsetMs);
    },
    pids: () => parts.allPids(),
    stop() {
      stopping ??= parts.cleanups();
      return stopping;
    },
  };
}
