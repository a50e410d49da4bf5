/**
 * Runs a stack's EventBridge Scheduler schedules against the runtime's clock: fires each enabled
 * schedule at its next time (evaluated in its time zone, honouring StartDate/EndDate) and hands
 * its target the Input with Scheduler's context attributes filled in. Changing the clock offset
 * re-plans every schedule from the new "now" (missed times are not replayed).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import type { ScheduleSpec } from '../resources/schedule.js';
import { nextFireTime, type FireWindow } from './expression.js';

/** What the scheduler calls when a schedule fires. */
export type FireTarget = (schedule: ScheduleSpec, payload: string | undefined, scheduledTimeMs: number) => Promise<void>;

/** A schedule's state, as the runtime reports it. */
export interface ScheduleState {
  readonly name: string;
  readonly group: string;
  readonly logicalId: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly enabled: boolean;
  /** Next fire time (ISO 8601, on the runtime's clock), if any. */
  readonly nextFireAt: string | undefined;
}

interface Entry {
  readonly spec: ScheduleSpec;
  window: FireWindow;
  enabled: boolean;
  next: number | undefined;
}

/** Longest sleep between checks, so clock changes and stops are noticed promptly. */
const MAX_SLEEP_MS = 1_000;

/** Fills Scheduler's context attributes into a target's Input. */
export function fillContextAttributes(input: string, schedule: ScheduleSpec, scheduledTimeMs: number, executionId: string, attempt: number): string {
  return input
    .replaceAll('<aws.scheduler.schedule-arn>', schedule.arn)
    .replaceAll('<aws.scheduler.scheduled-time>', new Date(scheduledTimeMs).toISOString().replace(/\.\d{3}Z$/, 'Z'))
    .replaceAll('<aws.scheduler.execution-id>', executionId)
    .replaceAll('<aws.scheduler.attempt-number>', String(attempt));
}

/** The schedules of one runtime. */
export class LocalScheduler {
  private readonly entries: Entry[];
  private readonly clock: Clock;
  private readonly fire: FireTarget;
  private readonly log: LogSink;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private unsubscribe: (() => void) | undefined;
  private readonly firing = new Set<Promise<void>>();

  constructor(schedules: readonly ScheduleSpec[], clock: Clock, fire: FireTarget, log: LogSink) {
    this.clock = clock;
    this.fire = fire;
    this.log = log;
    const now = clock.now();
    this.entries = schedules.map((spec) => ({
      spec,
      enabled: spec.enabled,
      next: undefined,
      window: { timeZone: spec.timeZone, anchorMs: spec.startMs ?? now, startMs: spec.startMs, endMs: spec.endMs },
    }));
  }

  /** Starts firing schedules. */
  start(): void {
    this.stopped = false;
    // A rate schedule without a start date counts its periods from now, as one on AWS counts them
    // from its creation: its first period fires at once. (Anchored when the scheduler was made, a
    // millisecond that passed before this start would put the first fire a whole period later.)
    const now = this.clock.now();
    for (const entry of this.entries) entry.window = { ...entry.window, anchorMs: entry.spec.startMs ?? now };
    this.plan();
    this.unsubscribe = this.clock.onChange(() => this.plan());
    this.schedule();
  }

  /** Stops firing and waits for targets being fired. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.allSettled([...this.firing]);
  }

  /** Enables or disables a schedule by name (or logical id); returns false if there is none. */
  setEnabled(name: string, enabled: boolean): boolean {
    const entry = this.find(name);
    if (entry === undefined) return false;
    entry.enabled = enabled;
    entry.next = enabled ? nextFireTime(entry.spec.expression, this.clock.now(), entry.window, true) : undefined;
    return true;
  }

  /** Fires a schedule now, whatever its expression says; returns false if there is none. */
  trigger(name: string): boolean {
    const entry = this.find(name);
    if (entry === undefined) return false;
    this.fireEntry(entry, this.clock.now());
    return true;
  }

  /** Every schedule's state. */
  list(): ScheduleState[] {
    return this.entries.map((entry) => ({
      name: entry.spec.name,
      group: entry.spec.group,
      logicalId: entry.spec.logicalId,
      expression: entry.spec.expressionText,
      timeZone: entry.spec.timeZone,
      enabled: entry.enabled,
      nextFireAt: entry.next === undefined ? undefined : new Date(entry.next).toISOString(),
    }));
  }

  private find(name: string): Entry | undefined {
    return this.entries.find((entry) => entry.spec.name === name || entry.spec.logicalId === name);
  }

  private plan(): void {
    const now = this.clock.now();
    for (const entry of this.entries) {
      entry.next = entry.enabled ? nextFireTime(entry.spec.expression, now, entry.window, true) : undefined;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const due = this.entries.flatMap((entry) => (entry.next === undefined ? [] : [entry.next]));
    const wait = due.length === 0 ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(0, Math.min(...due) - now));
    this.timer = setTimeout(() => this.tick(), wait);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    for (const entry of this.entries) {
      if (entry.next === undefined || entry.next > now) continue;
      const scheduled = entry.next;
      // Fire once for the latest time passed (after a laptop's sleep, not once per missed time).
      entry.next = nextFireTime(entry.spec.expression, Math.max(scheduled, now), entry.window);
      this.fireEntry(entry, scheduled);
    }
    this.schedule();
  }

  private fireEntry(entry: Entry, scheduledTimeMs: number): void {
    const { spec } = entry;
    const payload = spec.input === undefined ? undefined : fillContextAttributes(spec.input, spec, scheduledTimeMs, randomUUID(), 1);
    this.log({ source: RUNTIME_SOURCE, level: 'debug', message: `schedule ${spec.name} fired (${new Date(scheduledTimeMs).toISOString()})` });
    const run = this.fire(spec, payload, scheduledTimeMs).catch((error: unknown) => {
      this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `schedule ${spec.name} could not invoke its target: ${error instanceof Error ? error.message : String(error)}` });
    });
    this.firing.add(run);
    void run.finally(() => this.firing.delete(run));
  }
}
