/**
 * The batch function's logic: reads the state table's stream (batch items and tallied job items,
 * see ./stream-filter.ts), counts job outcomes into their batches and enqueues each batch's
 * callbacks exactly once.
 *
 * First, the job records of the event are counted into their batches' counters, one conditional
 * update per batch (./tally.ts). Then, for each batch item record, in stream order:
 * 1. *Claim*: the events whose rule holds in the new image and that are not claimed yet
 *    (./callbacks.ts) are claimed with one conditional transaction (`<event>_at`), which also moves
 *    the parent of a child batch. The condition makes the claim happen once, however often
 *    records are delivered.
 * 2. *Send*: the record whose write made a claim (its old image lacks `<event>_at`, its new image
 *    has it) sends that event's callback job, unless the batch item says it was sent already, then
 *    marks it sent. The claim's own stream record is what carries the send, so a crash between
 *    claim and send loses nothing: that record is delivered again.
 *
 * Exactly once, except in one window: a crash (or a failed mark) after SQS accepted the callback
 * job and before `<event>_sent_at` is written sends it again when the record is retried. The
 * callback job's jid is `<bid>-<event>` both times, so the duplicate is recognisable; handlers
 * make their effects idempotent with it, as for any job.
 *
 * Flow items (lib/flow) come through the same stream: a step's batch item that settled settles its
 * step in the flow item, and a flow item's record starts the steps its write started
 * (lib/flow/stream.ts).
 *
 * A record that fails is reported (`batchItemFailures` with its sequence number) and the records
 * after it are left for the retry, which Lambda starts from that record; a batch whose count failed
 * fails at its first job record of the event.
 */
import { callHook, hasClientChain, runClientChain, type AnyMiddleware } from '../middleware/chain.js';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { sqsClientOf } from '../aws/clients.js';
import type { StateCommands } from '../aws/dynamo.js';
import { prepareJob } from '../enqueue/enqueue.js';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { HopperError } from '../errors/base.js';
import { describeError, type Job } from '../job/model.js';
import { jobMessage, sendInBatches, type OutgoingMessage, type SqsBatchSender } from '../aws/sqs-batch.js';
import { stateAccess } from '../storage/access.js';
import { createLogger, type LogSink, type Logger } from '../observability/logger.js';
import { METRICS, metricsOf } from '../observability/emf.js';
import { callbackJob, callbackStatus, dueEvents, eventsClaimedBetween } from './callbacks.js';
import { readBatchItem, type CallbackEvent } from './model.js';
import type { BatchStore } from './store.js';
import { isBatchItemRecord } from './stream-filter.js';
import { tallyJobRecords } from './tally.js';
import { handleFlowRecord, settleFromBatch, type FlowStreamDeps } from '../flow/stream.js';
import { isFlowItemRecord } from './stream-filter.js';

/** A callback job's message, with the job it carries. */
type CallbackMessage = OutgoingMessage & { readonly job: Job };

/** Options of {@link createBatchStreamHandler}. */
export interface BatchStreamHandlerOptions {
  /** @default process.env */
  readonly env?: Env;
  /** @default - an SQS client for `env` */
  readonly sqs?: SqsBatchSender;
  /** @default - a DynamoDB client for `env`, loaded on first use */
  readonly dynamo?: StateCommands;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default console.log */
  readonly log?: LogSink;
  /** The team's middleware: its client chain runs on each callback job (via `callback`), `onBatchSettled` after a batch completes or succeeds. */
  readonly middleware?: AnyMiddleware;
}

/**
 * Creates the batch function's handler for DynamoDB stream events with
 * `ReportBatchItemFailures`. Reads `HOPPER_STATE_TABLE`, `HOPPER_QUEUE_URLS` and
 * `HOPPER_DEFAULT_RETRY` at once, so a misconfigured function fails at start.
 */
export function createBatchStreamHandler(options: BatchStreamHandlerOptions = {}): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
  const config = HopperConfig.of(options.env);
  void config.stateTable;
  const runtime = { queueUrls: config.queueUrls(), queueTiers: config.queueTiers, defaultRetry: config.defaultRetry };
  const sqs = options.sqs ?? sqsClientOf(config);
  const now = options.now ?? (() => new Date());
  const state = stateAccess(config, options.dynamo, now);
  const logger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now });
  const metrics = metricsOf(config, options.log);
  const { middleware } = options;

  /** Sends the callback jobs of `events` of batch `bid` that are not marked sent, then marks them. */
  const send = async (store: BatchStore, bid: string, events: readonly CallbackEvent[]): Promise<void> => {
    const current = await store.get(bid);
    if (current === undefined) return;
    const unsent = events.filter((event) => current.sentAt[event] === undefined && current.callbacks[event] !== undefined);
    if (unsent.length === 0) return;
    const messages = unsent.flatMap((event) => {
      const input = callbackJob(current, event);
      if (input === undefined) return [];
      try {
        const prepared = prepareJob(input, runtime, { now: now() });
        return [{ ...jobMessage(prepared.job.jid, prepared.queueUrl, prepared.job, { body: prepared.body }), job: prepared.job }];
      } catch (error) {
        // Validated when the batch was created; only a queue removed since gets here. Retrying
        // cannot help, and blocking the stream would hold back every other batch.
        logger.error('callback job is invalid; not sent', { bid, event, error });
        return [];
      }
    });
    const toSend = hasClientChain(middleware) ? await throughClientChain(middleware, messages, bid) : messages;
    const unsentMessages = await sendInBatches(sqs, toSend);
    if (unsentMessages.length > 0) throw new HopperError(`callback jobs not sent: ${unsentMessages.map((failure) => `${failure.key}: ${failure.reason}`).join('; ')}`);
    await store.markSent(bid, unsent);
    const counted = metrics.batch();
    for (const message of toSend) {
      logger.info('batch callback enqueued', { bid, jid: message.key, jobtype: message.job.jobtype, queue: message.job.queue });
      counted.count(message.job.queue, message.job.jobtype, METRICS.enqueued);
    }
    counted.flush(now().getTime());
  };

  /**
   * The callback jobs through the team's client chain. One it refuses goes to the dead set, where a
   * retry runs the chain again: retrying the stream record could not change the answer, and would
   * hold back every batch behind it. A failed burial throws (the record is retried).
   */
  const throughClientChain = async (chain: AnyMiddleware, messages: readonly CallbackMessage[], bid: string): Promise<CallbackMessage[]> => {
    const passed: CallbackMessage[] = [];
    for (const message of messages) {
      const lines = logger.child({ bid, jid: message.job.jid });
      try {
        const job = await runClientChain(chain, message.job, 'callback', lines);
        passed.push({ ...jobMessage(message.key, message.queueUrl, job, { body: prepareJob(job, runtime, { now: now() }).body }), job });
      } catch (error) {
        const { errtype, message: text } = describeError(error);
        const reason = { errtype, message: text };
        await (await state.deadSet()).bury(message.job, reason, now().getTime());
        lines.error('client middleware refused the callback job; it is in the dead set', { error: reason.message });
        await callHook(chain, 'onDead', { job: message.job, queue: message.job.queue, ...reason }, lines);
      }
    }
    return passed;
  };

  // Flow steps are enqueued as any batch job is (lib/flow/stream.ts); flows refuse steps that would
  // need the scheduled set or a unique lock (lib/flow/compile.ts).
  const enqueueRuntime = {
    ...runtime, sqs, now, scheduledSet: () => state.scheduledSet(), uniqueLocks: () => state.uniqueLocks(),
  };
  let flowDeps: FlowStreamDeps | undefined;
  const flows = async (store: BatchStore): Promise<FlowStreamDeps> => {
    flowDeps ??= { flows: await state.flowStore(), batches: store, runtime: enqueueRuntime, now, logger };
    return flowDeps;
  };

  return async (event) => {
    const store = await state.batchStore();
    const records = event.Records;
    const tallyFailedAt = await tallyJobRecords(store, records, logger);
    for (const record of records.slice(0, tallyFailedAt)) {
      try {
        if (isFlowItemRecord(record)) await handleFlowRecord(await flows(store), record);
        else await handleRecord(store, record, send, logger, middleware, () => flows(store));
      } catch (error) {
        logger.error('batch record failed; retried from here', { sequence_number: record.dynamodb?.SequenceNumber, error });
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    const retryFrom = records[tallyFailedAt];
    return { batchItemFailures: retryFrom === undefined ? [] : [{ itemIdentifier: retryFrom.dynamodb?.SequenceNumber ?? '' }] };
  };
}

async function handleRecord(
  store: BatchStore,
  record: DynamoDBRecord,
  send: (store: BatchStore, bid: string, events: readonly CallbackEvent[]) => Promise<void>,
  logger: Logger,
  middleware: AnyMiddleware | undefined,
  flows: () => Promise<FlowStreamDeps>,
): Promise<void> {
  if (!isBatchItemRecord(record)) return;
  const image = record.dynamodb?.NewImage;
  const after = image === undefined ? undefined : readBatchItem(image);
  if (after === undefined) return;
  const oldImage = record.dynamodb?.OldImage;
  const before = oldImage === undefined ? undefined : readBatchItem(oldImage);

  const due = dueEvents(after);
  if (due.length > 0) {
    const claimed = await store.claim(after, due);
    if (claimed.length > 0) logger.info('batch events claimed', { bid: after.bid, events: claimed, ...after.counters });
  }
  const appeared = eventsClaimedBetween(before, after);
  if (appeared.length > 0) await send(store, after.bid, appeared);
  if (after.flow !== undefined) await settleFromBatch(await flows(), after);
  if (middleware?.hooks?.onBatchSettled === undefined) return;
  for (const event of appeared) {
    if (event !== 'death') await callHook(middleware, 'onBatchSettled', { ...callbackStatus(after, event), event }, logger.child({ bid: after.bid }));
  }
}
