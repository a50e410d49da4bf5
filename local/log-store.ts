/**
 * What the functions printed, kept as CloudWatch Logs keeps it: one log group per function
 * (`/aws/lambda/<name>`), a log stream per instance, events with a timestamp and an id. The local
 * Lambda API answers CloudWatch Logs' `FilterLogEvents` and `DescribeLogGroups` from it
 * (./http/logs-api.ts), so `hopper tail` reads a local stack as it reads a deployed one.
 */

/** One event, as `FilterLogEvents` returns it. */
export interface LogEvent {
  readonly logStreamName: string;
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
  readonly eventId: string;
}

/** Events kept per log group; older ones are dropped first. */
export const LOG_STORE_EVENTS_PER_GROUP = 10_000;

/** The log groups of a local stack's functions. */
export class LogStore {
  private readonly groups = new Map<string, { readonly createdMs: number; readonly events: LogEvent[] }>();
  private sequence = 0;
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(capacity = LOG_STORE_EVENTS_PER_GROUP, now: () => number = Date.now) {
    this.capacity = capacity;
    this.now = now;
  }

  /** Keeps a line `group`'s instance `stream` printed. */
  add(group: string, stream: string, message: string): void {
    let entry = this.groups.get(group);
    if (entry === undefined) {
      entry = { createdMs: this.now(), events: [] };
      this.groups.set(group, entry);
    }
    const timestamp = this.now();
    this.sequence += 1;
    // CloudWatch's ids are long digit strings that sort by time; these do too.
    const eventId = `${String(timestamp).padStart(16, '0')}${String(this.sequence).padStart(12, '0')}`;
    entry.events.push({ logStreamName: stream, timestamp, ingestionTime: timestamp, message, eventId });
    if (entry.events.length > this.capacity) entry.events.splice(0, entry.events.length - this.capacity);
  }

  /** The groups, by name, with their creation time. */
  describe(prefix = ''): { readonly logGroupName: string; readonly creationTime: number }[] {
    return [...this.groups].filter(([name]) => name.startsWith(prefix)).map(([logGroupName, entry]) => ({ logGroupName, creationTime: entry.createdMs })).sort((a, b) => a.logGroupName.localeCompare(b.logGroupName));
  }

  /** Whether `group` has printed anything. */
  has(group: string): boolean {
    return this.groups.has(group);
  }

  /**
   * `group`'s events from `startTime` to `endTime` (epoch ms, both inclusive), oldest first, at most
   * `limit` after the event `after` (the previous page's last event id).
   */
  filter(group: string, options: { startTime?: number; endTime?: number; limit: number; after?: string; streams?: readonly string[] }): { events: LogEvent[]; more: boolean } {
    const events = (this.groups.get(group)?.events ?? []).filter((event) => (options.startTime === undefined || event.timestamp >= options.startTime)
      && (options.endTime === undefined || event.timestamp <= options.endTime)
      && (options.after === undefined || event.eventId > options.after)
      && (options.streams === undefined || options.streams.includes(event.logStreamName)));
    return { events: events.slice(0, options.limit), more: events.length > options.limit };
  }
}
