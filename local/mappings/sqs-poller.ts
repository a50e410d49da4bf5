/**
 * Runs one SQS event source mapping the way Lambda does: long-polls the queue, gathers batches
 * (batch size, batching window), invokes the function with up to MaximumConcurrency batches in
 * flight, deletes what succeeded and leaves failed records to come back after the visibility
 * timeout (the emulator applies maxReceiveCount and redrive).
 *
 * A throttled invocation (the function's reserved or the account's concurrency in use) is retried
 * with backoff while the batch is still invisible; a batch still throttled when its visibility
 * timeout ends is given up and its messages return to the queue, received once more without any
 * handler having run them — as on AWS, where throttles raise ApproximateReceiveCount and a low
 * maxReceiveCount turns a burst into redrives.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { throttleOf, type FunctionPool, type Invocation } from '../host/function-pool.js';
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import type { MappingSpec } from '../resources/event-source-mapping.js';
import { matchesAnyFilter } from './filter.js';
import { Gate } from './gate.js';
import { failedItems, filterView, sqsRecord } from './sqs-event.js';

/** What a poller needs. */
export interface SqsPollerOptions {
  readonly mapping: MappingSpec;
  readonly queueUrl: string;
  readonly queueName: string;
  readonly pool: FunctionPool;
  readonly client: SQSClient;
  readonly log: LogSink;
  /** Batches in flight when the mapping sets no MaximumConcurrency. */
  readonly defaultConcurrency: number;
  /** The queue's visibility timeout: how long a received batch stays invisible. */
  readonly visibilityTimeoutSeconds: number;
}

/** Waits between attempts at invoking a throttled batch: 1 s, doubling, at most 30 s (the last repeats). */
export const THROTTLE_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000] as const;

/** Long-poll wait; short enough that stopping never waits long on the emulator. */
const RECEIVE_WAIT_SECONDS = 2;

/** Polls one queue for one function. */
export class SqsPoller {
  readonly mapping: MappingSpec;
  private readonly options: SqsPollerOptions;
  private readonly enabled: Gate;
  private readonly capacity = new Gate(true);
  private readonly abort = new AbortController();
  private readonly filters: readonly unknown[];
  private inFlight = 0;
  /** ScalingConfig.MaximumConcurrency as the mapping has it now (UpdateEventSourceMapping changes it). */
  private maximum: number | undefined;
  private running = false;
  private receives = 0;
  private loop: Promise<void> | undefined;
  private readonly batches = new Set<Promise<void>>();

  constructor(options: SqsPollerOptions) {
    this.options = options;
    this.mapping = options.mapping;
    this.enabled = new Gate(options.mapping.enabled);
    this.maximum = options.mapping.maximumConcurrency;
    this.filters = options.mapping.filterPatterns.map((pattern): unknown => JSON.parse(pattern));
  }

  /** Most batches in flight at once. */
  get maxConcurrency(): number {
    return this.maximum ?? this.options.defaultConcurrency;
  }

  /** The mapping's ScalingConfig.MaximumConcurrency now; undefined when it sets none. */
  get maximumConcurrency(): number | undefined {
    return this.maximum;
  }

  /**
   * Changes the mapping's MaximumConcurrency, as UpdateEventSourceMapping's ScalingConfig does: a
   * raise lets more batches start at once; a cut lets the batches in flight finish and starts no
   * new one until they are under it.
   */
  setMaximumConcurrency(value: number): void {
    this.maximum = value;
    if (this.inFlight < value) this.capacity.set(true);
  }

  /** Whether the mapping is enabled now. */
  get isEnabled(): boolean {
    return this.enabled.isOpen;
  }

  /**
   * Whether a receive is in progress. Disabling the mapping lets it finish (its messages are
   * processed), so the mapping is only fully disabled once this is false.
   */
  get receiving(): boolean {
    return this.receives > 0;
  }

  /** Starts polling (while enabled). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Enables or disables the mapping; a disabled mapping receives nothing until enabled again. */
  setEnabled(enabled: boolean): void {
    this.enabled.set(enabled);
  }

  /**
   * Stops receiving; resolves when the loop and every batch in flight have ended (the runtime
   * stops the function instances meanwhile, which ends those batches).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.enabled.wake();
    this.capacity.wake();
    await this.loop;
    await Promise.allSettled([...this.batches]);
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.enabled.wait();
      if (!this.running) break;
      if (this.inFlight >= this.maxConcurrency) {
        this.capacity.set(false);
        await this.capacity.wait();
        continue;
      }
      let messages: Message[];
      let receivedAtMs: number;
      try {
        ({ messages, receivedAtMs } = await this.collectBatch());
      } catch (error) {
        if (!this.running) break;
        this.options.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${this.mapping.logicalId}: receive from ${this.options.queueName} failed: ${error instanceof Error ? error.message : String(error)}` });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      if (messages.length === 0) continue;
      this.inFlight += 1;
      const batch = this.process(messages, receivedAtMs).finally(() => {
        this.inFlight -= 1;
        this.batches.delete(batch);
        this.capacity.set(true);
      });
      this.batches.add(batch);
    }
  }

  /**
   * Receives until the batch is full, the batching window ends, or (without a window) anything
   * arrived; `receivedAtMs` is when the first messages came (their visibility runs from then).
   */
  private async collectBatch(): Promise<{ readonly messages: Message[]; readonly receivedAtMs: number }> {
    const { batchSize, maximumBatchingWindowSeconds } = this.mapping;
    const windowMs = maximumBatchingWindowSeconds * 1000;
    const messages: Message[] = [];
    let windowEnd: number | undefined;
    let receivedAtMs = Date.now();
    while (messages.length < batchSize && this.running && this.enabled.isOpen) {
      const remainingMs = windowEnd === undefined ? RECEIVE_WAIT_SECONDS * 1000 : windowEnd - Date.now();
      if (remainingMs <= 0) break;
      this.receives += 1;
      const received = await this.options.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
          WaitTimeSeconds: Math.min(RECEIVE_WAIT_SECONDS, Math.ceil(remainingMs / 1000)),
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.abort.signal },
      ).finally(() => {
        this.receives -= 1;
      });
      if (messages.length === 0) receivedAtMs = Date.now();
      messages.push(...(received.Messages ?? []));
      if (messages.length === 0) return { messages, receivedAtMs };
      if (windowMs === 0) break;
      // Lambda's batching window starts with the first record.
      windowEnd ??= Date.now() + windowMs;
    }
    return { messages, receivedAtMs };
  }

  private async process(messages: readonly Message[], receivedAtMs: number): Promise<void> {
    const { mapping, pool, log, queueName } = this.options;
    const records = messages.map((message) => sqsRecord(message, mapping.eventSourceArn));
    // Lambda deletes messages that match no filter: they are consumed without an invocation.
    const matching = records.filter((record) => matchesAnyFilter(this.filters, filterView(record)));
    const filteredOut = records.filter((record) => !matching.includes(record));
    await this.delete(filteredOut);
    if (matching.length === 0) return;
    const invocation = await this.invokeUnlessThrottled(matching, receivedAtMs);
    if (!this.running || invocation === undefined) return;
    if (!invocation.ok) {
      log({
        source: RUNTIME_SOURCE,
        level: 'warn',
        message: `${pool.spec.logicalId} failed a batch of ${matching.length} from ${queueName} (${invocation.error.errorType}: ${invocation.error.errorMessage}); the messages return after the visibility timeout`,
      });
      return;
    }
    if (!mapping.reportBatchItemFailures) {
      await this.delete(matching);
      return;
    }
    const failed = failedItems(invocation.value, new Set(matching.map((record) => record.messageId)));
    if (failed === 'all') {
      log({ source: RUNTIME_SOURCE, level: 'warn', message: `${pool.spec.logicalId} returned a malformed batchItemFailures response; the whole batch of ${matching.length} stays on ${queueName}` });
      return;
    }
    await this.delete(matching.filter((record) => !failed.has(record.messageId)));
  }

  /**
   * Invokes the function; while it is throttled, tries again with backoff as long as the batch's
   * visibility lasts. Undefined when the batch was given up (or the poller stopped).
   */
  private async invokeUnlessThrottled(records: readonly SQSRecord[], receivedAtMs: number): Promise<Invocation | undefined> {
    const { pool, log, queueName, visibilityTimeoutSeconds } = this.options;
    const visibleAgainAtMs = receivedAtMs + visibilityTimeoutSeconds * 1000;
    for (let attempt = 0; ; attempt += 1) {
      const invocation = await pool.invoke({ Records: records });
      const throttled = throttleOf(invocation);
      if (throttled === undefined) return invocation;
      const delayMs = THROTTLE_BACKOFF_MS[Math.min(attempt, THROTTLE_BACKOFF_MS.length - 1)] ?? 1_000;
      if (!this.running) return undefined;
      if (Date.now() + delayMs >= visibleAgainAtMs) {
        log({
          source: RUNTIME_SOURCE,
          level: 'warn',
          message: `${pool.spec.logicalId} throttled (${throttled}) for the whole visibility timeout of a batch of ${records.length} from ${queueName} (receive count ${receiveCount(records)}); the messages return to the queue unrun`,
        });
        return undefined;
      }
      // Stopping aborts the wait.
      await sleep(delayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      if (!this.running) return undefined;
    }
  }

  private async delete(records: readonly SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      try {
        const result = await this.options.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
          }),
        );
        for (const failure of result.Failed ?? []) {
          this.options.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${this.mapping.logicalId}: could not delete a message from ${this.options.queueName}: ${failure.Message ?? failure.Code ?? 'unknown error'}` });
        }
      } catch (error) {
        if (this.running) this.options.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${this.mapping.logicalId}: delete from ${this.options.queueName} failed: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
  }
}

/** The highest receive count among `records` (they were received together). */
function receiveCount(records: readonly SQSRecord[]): number {
  return Math.max(...records.map((record) => Number(record.attributes.ApproximateReceiveCount)));
}
