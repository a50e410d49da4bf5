/**
 * A running job's reservation of its SQS message: the message stays invisible (not delivered to
 * another worker) while the job runs, however long that is.
 *
 * - At start, a job whose `reserve_for` exceeds its queue's visibility timeout extends the
 *   message's visibility to `reserve_for`.
 * - While the handler runs, a heartbeat extends it again whenever half of the current reservation
 *   is used up, by the same length (`reserve_for`, else the queue's visibility timeout). Jobs that
 *   finish within half the reservation, which is nearly all of them, never send a request.
 * - `ctx.extend(seconds)` extends it at once and makes `seconds` the length the heartbeat renews.
 *
 * Visibility is per receipt: the record's receipt handle is what is extended.
 *
 * SQS refuses a visibility that would end more than 12 hours after the message was first received
 * (`ApproximateFirstReceiveTimestamp`), and a refused renewal lets the message reappear while the
 * job still runs, so that a second worker runs it too. Every request is therefore capped by the
 * time already elapsed since the first receive (less {@link RESERVATION_DEFAULTS}.capMarginSeconds
 * for clock skew and the request's own travel); once the cap is reached, the heartbeat stops and
 * the message becomes visible again when that last reservation ends.
 */
import type { ChangeMessageVisibilityCommand, ChangeMessageVisibilityCommandOutput } from '@aws-sdk/client-sqs';
import { ReservationError } from '../errors/worker.js';
import { JOB_LIMITS } from '../job/model.js';
import type { Logger } from '../observability/logger.js';

/** The SQS command a reservation sends; an `SQSClient` satisfies it. */
export interface SqsVisibilityChanger {
  send(command: ChangeMessageVisibilityCommand): Promise<ChangeMessageVisibilityCommandOutput>;
}

/** Defaults of reservations. */
export const RESERVATION_DEFAULTS = {
  /** Visibility timeout assumed for a queue whose timeout the worker was not told (SQS's own default). */
  assumedVisibilitySeconds: 30,
  /** The longest reservation SQS allows (12 hours). */
  maxSeconds: JOB_LIMITS.maxReserveForSeconds,
  /** Wait before trying again after a failed renewal (or a quarter of the reservation, if shorter). */
  retryAfterFailureMs: 10_000,
  /**
   * Seconds kept between a capped reservation's end and SQS's 12 hours from the first receive: the
   * worker's clock and SQS's differ a little, and SQS counts from when the request arrives.
   */
  capMarginSeconds: 60,
} as const;

/** What a reservation needs. */
export interface ReservationOptions {
  readonly sqs: SqsVisibilityChanger;
  /** The URL of the record's queue; undefined when it is not a declared queue (then nothing is extended). */
  readonly queueUrl: string | undefined;
  readonly receiptHandle: string;
  /** The queue's visibility timeout in seconds, when known. */
  readonly visibilitySeconds: number | undefined;
  /** The job's `reserve_for`, when set. */
  readonly reserveForSeconds: number | undefined;
  /** When the message was received (≈ the invocation's start): its visibility runs from then. */
  readonly receivedAtMs: number;
  /**
   * When SQS first received the message (the record's `ApproximateFirstReceiveTimestamp`): no
   * reservation may end more than 12 hours after it. @default - `receivedAtMs`
   */
  readonly firstReceivedAtMs?: number;
  /** The worker's clock, in epoch ms. */
  readonly nowMs: () => number;
  readonly logger: Logger;
  /** The invocation's reservations, whose one timer runs this one's heartbeat. */
  readonly reservations: Reservations;
}

/**
 * The reservations of one invocation's running jobs, with the one timer that renews them: a batch
 * of ten jobs arms a timer once, not ten times, and a job that ends before its renewal only leaves
 * the plan. The invocation stops them all at its hard stop.
 */
export class Reservations {
  /** The reservations of the jobs running now. */
  private readonly running = new Set<Reservation>();
  /** When each reservation with a renewal planned is to be renewed (epoch ms). */
  private readonly due = new Map<Reservation, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires; infinite when none is armed. */
  private timerAtMs = Number.POSITIVE_INFINITY;

  constructor(private readonly nowMs: () => number) {}

  /** Adds a running job's reservation (before its {@link Reservation.start}). */
  add(reservation: Reservation): void {
    this.running.add(reservation);
  }

  /** Stops a reservation whose job ended, and forgets it. */
  delete(reservation: Reservation): void {
    reservation.stop();
    this.running.delete(reservation);
  }

  /** Renews `reservation` at `atMs` (epoch ms), in place of any renewal planned for it before. */
  plan(reservation: Reservation, atMs: number): void {
    this.due.set(reservation, atMs);
    if (atMs < this.timerAtMs) this.arm(atMs);
  }

  /** Forgets `reservation`'s planned renewal. */
  cancel(reservation: Reservation): void {
    if (!this.due.delete(reservation) || this.due.size > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
  }

  /** Stops every reservation (the invocation gives up on its jobs: SQS delivers them again later). */
  stopAll(): void {
    for (const reservation of this.running) reservation.stop();
  }

  private arm(atMs: number): void {
    clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(() => this.fire(), Math.max(0, atMs - this.nowMs()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    const nowMs = this.nowMs();
    let nextMs = Number.POSITIVE_INFINITY;
    for (const [reservation, atMs] of [...this.due]) {
      if (atMs <= nowMs) {
        this.due.delete(reservation);
        reservation.beat();
      } else {
        nextMs = Math.min(nextMs, atMs);
      }
    }
    // A renewal planned during a beat armed its own timer already when it was the earliest.
    if (nextMs < this.timerAtMs) this.arm(nextMs);
  }
}

/** A message's reservation while its job runs. Call {@link start}, then {@link stop} when the job ends. */
export class Reservation {
  /** Seconds each renewal reserves. */
  private length: number;
  /** When the current reservation runs out. */
  private expiresAtMs: number;
  private stopped = false;
  /** The last reservation SQS allows was made: nothing more can be extended. */
  private capped = false;

  constructor(private readonly options: ReservationOptions) {
    const visibility = options.visibilitySeconds ?? RESERVATION_DEFAULTS.assumedVisibilitySeconds;
    this.length = options.reserveForSeconds ?? visibility;
    this.expiresAtMs = options.receivedAtMs + visibility * 1000;
  }

  /** Extends to `reserve_for` when it exceeds the queue's timeout, and starts the heartbeat. */
  async start(): Promise<void> {
    const visibility = this.options.visibilitySeconds ?? RESERVATION_DEFAULTS.assumedVisibilitySeconds;
    const reserveFor = this.options.reserveForSeconds;
    if (reserveFor !== undefined && reserveFor > visibility) await this.renew('reserve_for');
    else this.schedule();
  }

  /**
   * Reserves the message for `seconds` from now, and renews by `seconds` from then on. A length
   * that would end past 12 hours from the message's first receive is cut to end there (less the
   * margin), and is the last reservation made.
   *
   * @throws ReservationError for a length outside 1 to 43,200 seconds or a message of an undeclared queue;
   *   the SQS error when the change is refused.
   */
  async extend(seconds: number): Promise<void> {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > RESERVATION_DEFAULTS.maxSeconds) {
      throw new ReservationError(`extend(seconds) needs an integer from 1 to ${RESERVATION_DEFAULTS.maxSeconds}, but ${seconds} was provided`);
    }
    if (this.options.queueUrl === undefined) throw new ReservationError('cannot extend the reservation: the message is not from a declared queue');
    this.length = seconds;
    await this.change(seconds);
    this.schedule();
  }

  /** Stops the heartbeat (the job ended, or the invocation gave up on it). */
  stop(): void {
    this.stopped = true;
    this.options.reservations.cancel(this);
  }

  /** The heartbeat: renews now (called by the invocation's {@link Reservations} when due). */
  beat(): void {
    void this.renew('heartbeat');
  }

  /** Plans the next renewal: when half of the reservation is left (room for a slow request), or after `delayMs`. */
  private schedule(delayMs?: number): void {
    if (this.stopped || this.capped || this.options.queueUrl === undefined) {
      this.options.reservations.cancel(this);
      return;
    }
    const atMs = delayMs === undefined ? this.expiresAtMs - (this.length * 1000) / 2 : this.options.nowMs() + delayMs;
    this.options.reservations.plan(this, atMs);
  }

  private async renew(reason: 'reserve_for' | 'heartbeat'): Promise<void> {
    if (this.stopped) return;
    try {
      await this.change(this.length);
    } catch (error) {
      // The job keeps running; at worst SQS delivers it again when the reservation runs out.
      this.options.logger.warn('could not extend the reservation', { reason, seconds: this.length, error });
      this.schedule(Math.min(RESERVATION_DEFAULTS.retryAfterFailureMs, (this.length * 1000) / 4));
      return;
    }
    this.schedule();
  }

  private async change(requested: number): Promise<void> {
    const queueUrl = this.options.queueUrl;
    if (queueUrl === undefined || this.capped) return;
    const startedMs = this.options.nowMs();
    const allowed = allowedSeconds(this.options.firstReceivedAtMs ?? this.options.receivedAtMs, startedMs);
    const seconds = Math.min(requested, allowed);
    if (seconds < requested) {
      this.capped = true;
      this.options.logger.warn('reservation capped at 12 hours from the first receive; the message becomes visible again when it ends', {
        requested_s: requested,
        seconds: Math.max(0, seconds),
        visible_at: new Date(seconds < 1 ? this.expiresAtMs : startedMs + seconds * 1000).toISOString(),
      });
      // Nothing can be added; asking for 0 would make the message visible at once.
      if (seconds < 1) return;
    }
    // Loaded here, not at the top: a worker that never extends a reservation never loads the SQS SDK.
    const { ChangeMessageVisibilityCommand: Command } = await import('@aws-sdk/client-sqs');
    await this.options.sqs.send(new Command({ QueueUrl: queueUrl, ReceiptHandle: this.options.receiptHandle, VisibilityTimeout: seconds }));
    // The new timeout runs from the request; counting from before it errs on the early side.
    this.expiresAtMs = startedMs + seconds * 1000;
    this.options.logger.debug('reservation extended', { seconds });
  }
}

/**
 * The longest visibility SQS grants a message at `nowMs`, in whole seconds: what is left of
 * 12 hours from its first receive, less the margin, and at most 43,200.
 */
export function allowedSeconds(firstReceivedAtMs: number, nowMs: number): number {
  const endMs = firstReceivedAtMs + (RESERVATION_DEFAULTS.maxSeconds - RESERVATION_DEFAULTS.capMarginSeconds) * 1000;
  return Math.min(RESERVATION_DEFAULTS.maxSeconds, Math.floor((endMs - nowMs) / 1000));
}
