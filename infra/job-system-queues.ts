/**
 * The queues of a JobSystem and their mappings: one SQS queue per declared queue, the retries
 * queue (redrive target of every job queue) with its DLQ, and the event source mappings that feed
 * each queue to its worker. Built by the JobSystem, in its own scope, so the construct ids
 * (`Queue-<name>`, `Retries`, `RetriesDlq`) and the logical ids derived from them stay as they are.
 */
import { CONCURRENCY_BOUNDS, concurrencyPlan, queueConcurrencyEnv, type ConcurrencyPlan } from './concurrency-plan.js';
import { ENV } from '../lib/config/env.js';
import { warnIfNeverNoisy } from './fair-queues.js';
import { Duration, Lazy, Names, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ConfigurationError } from '../lib/errors/base.js';
import { configurableFunction } from './job-system-grants.js';
import { JOB_SYSTEM_DEFAULTS, type QueueOptions, tenantCapOf, validateVisibility, type WorkerOptions } from './job-system-props.js';
import type { QueueLayout } from './queue-layout.js';
import type { TierMappings } from '../lib/config/queue-tiers.js';
import { resolvedSeconds } from './validation.js';
import { initialTierConcurrency, tieredConcurrencyPlan, tierQueueId, validateTiers } from './queue-tiers.js';

/** The queues of a JobSystem. */
export interface JobQueues {
  /** The job queues, by queue name (a queue with tiers: its default tier's queue). */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** The tiers' queues of the queues that declare tiers: queue name → tier name → queue (the default tier's is the queue's own). */
  readonly tiers: Readonly<Record<string, Readonly<Record<string, sqs.IQueue>>>>;
  /** Receives workers' failure envelopes and, by redrive, jobs whose worker crashed. */
  readonly retriesQueue: sqs.IQueue;
  /** Where retries-queue messages the retry function cannot process are parked. */
  readonly retriesDeadLetterQueue: sqs.IQueue;
  /** What a grant on every job queue names: each queue's ARN, or one pattern in nested stacks (queue-layout.ts). */
  readonly arns: readonly string[];
}

/**
 * Creates the retries DLQ (`RetriesDlq`), the retries queue (`Retries`) and one queue per declared
 * queue (`Queue-<name>`) in `scope`, or in its nested stack when `layout` has them. A queue
 * without an explicit visibility timeout gets `visibilitySeconds(name)`, resolved at synth (after
 * every worker is added).
 */
export function createJobQueues(scope: Construct, queueOptions: ReadonlyMap<string, QueueOptions>, visibilitySeconds: (name: string) => number, layout: QueueLayout): JobQueues {
  const retriesDeadLetterQueue = new sqs.Queue(scope, 'RetriesDlq', secureQueueProps());
  const retriesQueue = new sqs.Queue(scope, 'Retries', {
    ...secureQueueProps(),
    visibilityTimeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.visibilityTimeoutFactor * JOB_SYSTEM_DEFAULTS.retryTimeoutSeconds),
    deadLetterQueue: { queue: retriesDeadLetterQueue, maxReceiveCount: retriesMaxReceiveCount(queueOptions) },
  });
  const queues: Record<string, sqs.IQueue> = {};
  const tiers: Record<string, Record<string, sqs.IQueue>> = {};
  for (const [name, options] of queueOptions) {
    const queueName = layout.queueName(name);
    // A tier's queue is a job queue like any other: the same visibility, and the same redrive.
    const jobQueue = (id: string, physicalName?: string): sqs.Queue => new sqs.Queue(layout.scopeOf(name) ?? scope, id, {
      ...secureQueueProps(),
      ...(physicalName === undefined ? {} : { queueName: physicalName }),
      visibilityTimeout: options.visibilityTimeout ?? Duration.seconds(Lazy.number({ produce: () => visibilitySeconds(name) })),
      deadLetterQueue: { queue: retriesQueue, maxReceiveCount: options.maxReceiveCount ?? JOB_SYSTEM_DEFAULTS.maxReceiveCount },
    });
    const own = jobQueue(`Queue-${name}`, queueName);
    queues[name] = own;
    if (options.tiers === undefined) continue;
    const { names, defaultTier } = validateTiers(name, options.tiers, options.maxConcurrency);
    tiers[name] = Object.fromEntries(names.map((tier) => [tier, tier === defaultTier ? own : jobQueue(tierQueueId(name, tier, defaultTier))]));
  }
  const all = [...Object.values(queues), ...Object.values(tiers).flatMap((byTier) => Object.values(byTier).filter((queue) => !Object.values(queues).includes(queue)))];
  return { queues, tiers, retriesQueue, retriesDeadLetterQueue, arns: layout.arns(all) };
}

/**
 * The retries queue's `maxReceiveCount`: {@link JOB_SYSTEM_DEFAULTS.retriesMaxReceiveCount} tries
 * of the retry function, plus the most receives a crashed job can bring from its own queue. A
 * message moved by redrive may keep its receive count (fauxqs keeps it; AWS does not document it
 * either way), and the retries queue's own redrive would then count those receives too: with a
 * job queue's 5, a crashed job would go straight on to the retries DLQ without reaching the retry
 * function once.
 */
export function retriesMaxReceiveCount(queueOptions: ReadonlyMap<string, QueueOptions>): number {
  const carried = Math.max(0, ...[...queueOptions.values()].map((options) => options.maxReceiveCount ?? JOB_SYSTEM_DEFAULTS.maxReceiveCount));
  return JOB_SYSTEM_DEFAULTS.retriesMaxReceiveCount + carried;
}

/** Encryption, TLS-only access and the longest retention: what every Hopper queue gets. */
function secureQueueProps(): sqs.QueueProps {
  return {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(JOB_SYSTEM_DEFAULTS.retentionDays),
  };
}

/** What the JobSystem can know and change of a worker function. */
export interface WorkerFunction {
  /**
   * The function whose environment the JobSystem sets: the worker itself, or the function behind
   * an alias or version; undefined for a function defined outside this app (imported), whose
   * environment is set where it is defined.
   */
  readonly configurable: lambda.Function | undefined;
  /** Its timeout in seconds; undefined when not known at synth (a token, an imported function). */
  readonly timeoutSeconds: number | undefined;
}

/**
 * Looks through an alias or version to the function it runs: a `lambda.Function` of this app
 * (`NodejsFunction`, `PythonFunction`, `DockerImageFunction`, …) has a known timeout (Lambda's
 * default 3 s when unset) and an environment the JobSystem can add to.
 */
export function workerFunction(fn: lambda.IFunction): WorkerFunction {
  const configurable = configurableFunction(fn);
  if (configurable === undefined) return { configurable: undefined, timeoutSeconds: undefined };
  const timeout = configurable.timeout ?? Duration.seconds(JOB_SYSTEM_DEFAULTS.lambdaDefaultTimeoutSeconds);
  return { configurable, timeoutSeconds: resolvedSeconds(timeout) };
}

/**
 * Which worker serves which queue, through which event source mapping: the bookkeeping behind
 * `addWorker`, the queues' default visibility timeouts (which follow their worker's timeout) and
 * the mapping UUIDs the API pauses and resumes.
 */
export class QueueMappings {
  private readonly queueOptions: ReadonlyMap<string, QueueOptions>;
  /** Queue name → construct path of the function serving it. */
  private readonly servedBy = new Map<string, string>();
  /** Queue name → timeout of the function serving it, in seconds. */
  private readonly workerTimeouts = new Map<string, number>();
  /** Queue name → its mapping's batching window in seconds, where one is set and known at synth. */
  private readonly batchingWindows = new Map<string, number>();
  /** Queue name → UUID of the event source mapping feeding its worker (what pause/resume changes). */
  private readonly mappingIds = new Map<string, string>();
  /** Queue name → how its maxConcurrency is spread over mapping, batch size and worker (concurrency-plan.ts). */
  private readonly concurrencyPlans = new Map<string, ConcurrencyPlan>();
  /** Queue name → its tiers' mappings, for a queue with tiers and a worker (HOPPER_TIER_MAPPINGS). */
  private readonly tierMappingIds = new Map<string, TierMappings>();

  private readonly layout: QueueLayout;

  constructor(queueOptions: ReadonlyMap<string, QueueOptions>, layout: QueueLayout) {
    this.queueOptions = queueOptions;
    this.layout = layout;
  }

  /** The names of the declared queues, in declaration order. */
  get queueNames(): readonly string[] {
    return [...this.queueOptions.keys()];
  }

  /** The error message for a queue that is not declared (it lists the declared ones). */
  unknownQueueMessage(name: string): string {
    return `queue "${name}" is not declared; declared queues: ${this.queueNames.join(', ')}`;
  }

  /**
   * Checks that `fn` (whose timeout is `timeoutSeconds`, undefined when unknown at synth) may serve
   * `options.queues`: each declared, listed once, not served yet, and with a visibility timeout that holds.
   * @throws ConfigurationError naming the queue and what to change
   */
  validateWorker(fn: lambda.IFunction, options: WorkerOptions, timeoutSeconds: number | undefined): void {
    const seen = new Set<string>();
    for (const name of options.queues) {
      const queueOptions = this.queueOptions.get(name);
      if (queueOptions === undefined) throw new ConfigurationError(this.unknownQueueMessage(name));
      if (seen.has(name)) throw new ConfigurationError(`addWorker lists queue "${name}" more than once`);
      const worker = this.servedBy.get(name);
      if (worker !== undefined) {
        throw new ConfigurationError(`queue "${name}" is already served by ${worker}; a queue has exactly one worker, so serve all of its job types from that function`);
      }
      seen.add(name);
      const window = options.maxBatchingWindow ?? queueOptions.maxBatchingWindow;
      validateVisibility(name, queueOptions, fn, timeoutSeconds, window === undefined ? 0 : resolvedSeconds(window));
    }
  }

  /**
   * Connects `fn` to `options.queues` (validated): one SQS event source mapping per queue, with
   * partial batch responses and the batch size, maximum concurrency and batching window of the
   * worker's options, else the queue's. In one stack the mapping is the function's child with the
   * id `SqsEventSource` gives it; in nested stacks it is `Mapping-<queue>` in `Mappings<n>`. The
   * consume rights are the caller's to grant (one statement for all of them).
   *
   * @returns the mappings, one per queue, in the order given
   */
  connect(
    fn: lambda.IFunction, options: WorkerOptions, timeoutSeconds: number | undefined, queue: (name: string) => sqs.IQueue,
    tierQueues: (name: string) => Readonly<Record<string, sqs.IQueue>> | undefined = () => undefined,
  ): lambda.EventSourceMapping[] {
    return options.queues.flatMap((name) => {
      const queueOptions = this.queueOptions.get(name) ?? {};
      this.servedBy.set(name, fn.node.path);
      if (timeoutSeconds !== undefined) this.workerTimeouts.set(name, timeoutSeconds);
      const maxConcurrency = options.maxConcurrency ?? queueOptions.maxConcurrency;
      const batchSize = options.batchSize ?? queueOptions.batchSize ?? JOB_SYSTEM_DEFAULTS.batchSize;
      const tiers = queueOptions.tiers === undefined ? undefined : validateTiers(name, queueOptions.tiers, maxConcurrency);
      const plan = tiers === undefined || maxConcurrency === undefined ? concurrencyPlan({
        batchSize,
        ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
        ...(timeoutSeconds === undefined ? {} : { workerTimeoutSeconds: timeoutSeconds }),
      }) : tieredConcurrencyPlan({ maxConcurrency, batchSize }, tiers.names.length);
      this.concurrencyPlans.set(name, plan);
      const maxBatchingWindow = options.maxBatchingWindow ?? queueOptions.maxBatchingWindow;
      const windowSeconds = maxBatchingWindow === undefined ? undefined : resolvedSeconds(maxBatchingWindow);
      if (windowSeconds !== undefined) this.batchingWindows.set(name, windowSeconds);
      const mapTo = (source: sqs.IQueue, invocations: number | undefined, nestedId: string): lambda.EventSourceMapping => {
        const mappingOptions: lambda.EventSourceMappingOptions = {
          eventSourceArn: source.queueArn,
          batchSize: plan.batchSize,
          reportBatchItemFailures: true,
          ...(invocations === undefined ? {} : { maxConcurrency: invocations }),
          ...(maxBatchingWindow === undefined ? {} : { maxBatchingWindow }),
        };
        const scope = this.layout.mappingScopeOf(name);
        return scope === undefined
          ? fn.addEventSourceMapping(`SqsEventSource:${Names.nodeUniqueId(source.node)}`, mappingOptions)
          : new lambda.EventSourceMapping(scope, nestedId, { target: fn, ...mappingOptions });
      };
      const byTier = tierQueues(name);
      if (tiers === undefined || byTier === undefined || plan.maxInvocations === undefined) {
        const mapping = mapTo(queue(name), plan.maxInvocations, `Mapping-${name}`);
        this.mappingIds.set(name, mapping.eventSourceMappingId);
        warnIfNeverNoisy(mapping, name, plan);
        return [mapping];
      }
      // One mapping per tier, starting as the governor leaves an idle queue; the default tier's is the queue's own.
      const initial = initialTierConcurrency(tiers.names, plan.maxInvocations);
      const mappings = tiers.names.map((tier) => {
        const source = byTier[tier] ?? queue(name);
        return { tier, mapping: mapTo(source, initial[tier], tier === tiers.defaultTier ? `Mapping-${name}` : `Mapping-${name}.${tier}`) };
      });
      this.tierMappingIds.set(name, { invocations: plan.maxInvocations, perInvocation: plan.batchSize, mappings: Object.fromEntries(mappings.map(({ tier, mapping }) => [tier, mapping.eventSourceMappingId])) });
      const own = mappings.find(({ tier }) => tier === tiers.defaultTier)?.mapping;
      if (own !== undefined) this.mappingIds.set(name, own.eventSourceMappingId);
      return mappings.map(({ mapping }) => mapping);
    });
  }

  /** Whether queue `name` declares tiers and has its worker (so the governor has mappings to move). */
  hasTierMappings(name: string): boolean {
    return this.tierMappingIds.has(name);
  }

  /** `HOPPER_TIER_MAPPINGS` as JSON: each tiered queue's invocations, jobs per invocation and tier mappings, filled in at synth. */
  tierMappingsJson(scope: Construct): string {
    return Lazy.string({ produce: () => Stack.of(scope).toJsonString(Object.fromEntries(this.tierMappingIds)) });
  }

  /**
   * `HOPPER_TENANT_CAPS` when a queue declares `perTenant`: its cap, and how long a tenant's lease
   * lasts if its worker dies (the worker's timeout, resolved after every worker is added).
   */
  tenantCapsEnv(): Record<string, string> {
    const declared = [...this.queueOptions].flatMap(([name, options]) => (options.perTenant === undefined ? [] : [{ name, cap: tenantCapOf(name, options.perTenant) }]));
    if (declared.length === 0) return {};
    const { maxLeaseSeconds } = CONCURRENCY_BOUNDS;
    return {
      [ENV.tenantCaps]: Lazy.string({
        produce: () => JSON.stringify(Object.fromEntries(declared.map(({ name, cap }) => [name, { cap, leaseSeconds: Math.min(maxLeaseSeconds, Math.max(1, this.workerTimeouts.get(name) ?? maxLeaseSeconds)) }]))),
      }),
    };
  }

  /** `HOPPER_QUEUE_CONCURRENCY`: queue name → the worker's jobs per invocation and lease, from each queue's plan. */
  concurrencyEnv(): string {
    return queueConcurrencyEnv(this.concurrencyPlans);
  }

  /**
   * The default visibility timeout of queue `name`: 6 × its worker's timeout plus its mapping's
   * batching window (a record waits up to the window before the invocation starts), from 30 seconds
   * to 12 hours, as AWS recommends for SQS event sources.
   */
  defaultVisibilitySeconds(name: string): number {
    const { visibilityTimeoutFactor, minVisibilityTimeoutSeconds, maxVisibilityTimeoutSeconds } = JOB_SYSTEM_DEFAULTS;
    const timeout = this.workerTimeouts.get(name) ?? 0;
    const window = this.batchingWindows.get(name) ?? 0;
    return Math.min(maxVisibilityTimeoutSeconds, Math.max(minVisibilityTimeoutSeconds, visibilityTimeoutFactor * timeout + window));
  }

  /**
   * Queue name → visibility timeout in seconds, for the worker's reservation heartbeat. Resolved
   * at synth, after every worker is added (the default follows the worker's timeout); a timeout
   * given as a token is left out, and the worker then assumes SQS's default.
   */
  visibilityJson(): string {
    return Lazy.string({
      produce: () => {
        const seconds: Record<string, number> = {};
        for (const [name, options] of this.queueOptions) {
          const explicit = options.visibilityTimeout;
          const value = explicit === undefined ? this.defaultVisibilitySeconds(name) : resolvedSeconds(explicit);
          if (value !== undefined) seconds[name] = value;
        }
        return JSON.stringify(seconds);
      },
    });
  }

  /** Queue name → mapping UUID as JSON, for the API; workers are added later, so it is filled in at synth. */
  mappingIdsJson(scope: Construct): string {
    return Lazy.string({ produce: () => Stack.of(scope).toJsonString(Object.fromEntries(this.mappingIds)) });
  }
}
