/**
 * SQS fair queues on fauxqs's standard queues (fair-dispatch.ts is the rule; this is the seam).
 *
 * fauxqs ignores a standard queue's `MessageGroupId` and serves its ready messages in order. Two of
 * its queue methods are wrapped, once per process, for the queues of a registered front only:
 * - `enqueue`: a message the front said carries a group (SendMessage, SendMessageBatch) gets it, as
 *   on AWS (ReceiveMessage then returns it as the `MessageGroupId` attribute).
 * - `dequeue`: before fauxqs takes messages from the head of its ready list, the messages the fair
 *   rule picks are moved to the head, in the rule's order. fauxqs itself then receives them: receive
 *   counts, visibility, redrive to the DLQ are its own, unchanged. A queue none of whose messages
 *   has a group is not touched.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FairDispatch, type GroupedMessage } from './fair-dispatch.js';

/** The parts of a fauxqs message the model reads and writes. */
interface FauxqsMessage {
  readonly body: string;
  messageGroupId?: string | undefined;
}

/** The parts of a fauxqs standard queue the wrappers use. */
interface FauxqsQueue {
  readonly url: string;
  messages: FauxqsMessage[];
  readonly inflightMessages: Map<string, { readonly message: FauxqsMessage }>;
  isFifo(): boolean;
  processTimers(): void;
}

/**
 * The fair queues of one local SQS endpoint: a model per queue, and the groups of messages being
 * sent (the front announces them; fauxqs's `enqueue` takes them).
 */
export class FairQueues {
  private readonly models = new Map<string, FairDispatch>();
  /** `<queue url>\n<body>` → the groups of the messages with that body being sent, in order. */
  private readonly announced = new Map<string, string[]>();
  /** Queues that were ever sent a message with a group: the others are never reordered (nor scanned). */
  private readonly grouped = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Announces that a message with `body` is being sent to the queue `queueUrl` (the emulator's URL)
   * with `groupId`; returns what withdraws it when the emulator did not enqueue it.
   */
  announce(queueUrl: string, body: string, groupId: string): () => void {
    const key = `${queueUrl}\n${body}`;
    const groups = this.announced.get(key) ?? [];
    groups.push(groupId);
    this.announced.set(key, groups);
    return () => {
      const left = this.announced.get(key);
      const at = left?.indexOf(groupId) ?? -1;
      if (left === undefined || at < 0) return;
      left.splice(at, 1);
      if (left.length === 0) this.announced.delete(key);
    };
  }

  /** The groups noisy in queue `name` at its last receive. */
  noisyGroups(queueUrl: string): string[] {
    return this.models.get(queueUrl)?.noisyGroups() ?? [];
  }

  /** @internal The group of a message fauxqs enqueues, taken from the announcements. */
  groupOf(queue: FauxqsQueue, message: FauxqsMessage): string | undefined {
    const key = `${queue.url}\n${message.body}`;
    const groups = this.announced.get(key);
    const group = groups?.shift();
    if (groups?.length === 0) this.announced.delete(key);
    if (group !== undefined) {
      this.grouped.add(queue.url);
      this.model(queue.url).sent(group, this.now());
    }
    return group;
  }

  /** @internal Moves the messages the fair rule picks for a receive of `count` to the queue's head. */
  reorder(queue: FauxqsQueue, count: number): void {
    if (!this.grouped.has(queue.url)) return;
    // fauxqs's dequeue does this first too: messages whose visibility ended are ready again.
    queue.processTimers();
    const ready = queue.messages;
    const inFlight = [...queue.inflightMessages.values()].map((entry) => asGrouped(entry.message));
    // fauxqs skips (and moves to the DLQ) messages past maxReceiveCount, then takes the next: a
    // few more picks than the receive asks keep those next ones the rule's too.
    const picks = this.model(queue.url).select(ready.map(asGrouped), inFlight, Math.min(ready.length, count * 2), this.now());
    if (picks === undefined || picks.every((index, position) => index === position)) return;
    const picked = new Set(picks);
    queue.messages = [...picks.flatMap((index) => ready[index] ?? []), ...ready.filter((_, index) => !picked.has(index))];
  }

  private model(queueUrl: string): FairDispatch {
    let model = this.models.get(queueUrl);
    if (model === undefined) {
      model = new FairDispatch();
      this.models.set(queueUrl, model);
    }
    return model;
  }
}

function asGrouped(message: FauxqsMessage): GroupedMessage {
  return { groupId: message.messageGroupId };
}

/** Registered endpoints, by the port in their queues' URLs. */
const registered = new Map<number, FairQueues>();

/**
 * Serves the queues whose URLs are on `ports` (the front's and the emulator's) fairly, until the
 * returned function is called.
 */
export async function registerFairQueues(ports: readonly number[], fair: FairQueues): Promise<() => void> {
  await installWrappers();
  for (const port of ports) registered.set(port, fair);
  return () => {
    for (const port of ports) if (registered.get(port) === fair) registered.delete(port);
  };
}

function fairQueuesOf(queue: FauxqsQueue): FairQueues | undefined {
  try {
    return registered.get(Number(new URL(queue.url).port));
  } catch {
    return undefined;
  }
}

let installing: Promise<void> | undefined;

/** Wraps fauxqs's queue methods, once per process. */
function installWrappers(): Promise<void> {
  installing ??= (async () => {
    const module: unknown = await import(pathToFileURL(storeModulePath()).href);
    const queueClass = isRecord(module) ? module.SqsQueue : undefined;
    const prototype: unknown = typeof queueClass === 'function' ? queueClass.prototype : undefined;
    if (!isRecord(prototype) || typeof prototype.enqueue !== 'function' || typeof prototype.dequeue !== 'function') {
      throw new Error('fauxqs: SqsQueue.prototype.enqueue/dequeue not found in dist/sqs/sqsStore.js (the pinned 1.9.2 has them)');
    }
    const { enqueue, dequeue } = prototype;
    prototype.enqueue = function wrappedEnqueue(this: unknown, ...args: unknown[]): unknown {
      const [message] = args;
      if (isStandardQueue(this) && isMessage(message)) {
        const group = fairQueuesOf(this)?.groupOf(this, message);
        if (group !== undefined) message.messageGroupId = group;
      }
      const result: unknown = Reflect.apply(enqueue, this, args);
      return result;
    };
    prototype.dequeue = function wrappedDequeue(this: unknown, ...args: unknown[]): unknown {
      const [count] = args;
      if (isStandardQueue(this) && typeof count === 'number') fairQueuesOf(this)?.reorder(this, Math.min(count, 10));
      const result: unknown = Reflect.apply(dequeue, this, args);
      return result;
    };
  })();
  return installing;
}

/**
 * fauxqs's store module, the one its `startFauxqs` loaded: the package exports only its entry, so
 * the file is found where Node resolves the package (symlinks resolve to the same module).
 */
function storeModulePath(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths('fauxqs') ?? []) {
    const file = join(dir, 'fauxqs', 'dist', 'sqs', 'sqsStore.js');
    if (existsSync(file)) return file;
  }
  throw new Error('fauxqs: dist/sqs/sqsStore.js not found next to the installed package');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function isMessage(value: unknown): value is FauxqsMessage {
  return isRecord(value) && typeof value.body === 'string';
}

function isStandardQueue(value: unknown): value is FauxqsQueue {
  return isRecord(value) && typeof value.url === 'string' && Array.isArray(value.messages) && value.inflightMessages instanceof Map
    && typeof value.isFifo === 'function' && typeof value.processTimers === 'function' && value.isFifo() !== true;
}
