/**
 * Where the runtime's own messages and its functions' output go. Function output is split into
 * lines and tagged with the function's logical id, so interleaved instances stay readable.
 */
import { isRecord } from '../lib/job/model.js';
import { formatFunctionLine, type ConsoleFormat, type LogLevel } from '../lib/observability/console-format.js';

export { LOG_LEVELS, type LogLevel } from '../lib/observability/console-format.js';

/** One line of output. */
export interface LogEntry {
  /** `hopper` for the runtime itself, else the function's logical id. */
  readonly source: string;
  readonly level: LogLevel;
  readonly message: string;
}

/** Receives log lines. */
export type LogSink = (entry: LogEntry) => void;

/** The runtime's own source name in log entries. */
export const RUNTIME_SOURCE = 'hopper';

/** A sink that drops everything. */
export const silentSink: LogSink = () => undefined;

/**
 * A sink that writes `[source] message` lines to a stream (stderr by default), skipping `debug`
 * unless asked. Function output goes through {@link formatFunctionLine} when a `console` format
 * is given (hopper dev's readable job events, EMF lines hidden).
 */
export function streamSink(stream: NodeJS.WritableStream = process.stderr, options: { readonly debug?: boolean; readonly console?: ConsoleFormat } = {}): LogSink {
  const { console } = options;
  return (entry) => {
    const shown = console === undefined || entry.source === RUNTIME_SOURCE ? entry : formatted(entry, console);
    if (shown === undefined || (shown.level === 'debug' && options.debug !== true)) return;
    stream.write(`[${shown.source}] ${shown.message}\n`);
  };
}

function formatted(entry: LogEntry, format: ConsoleFormat): LogEntry | undefined {
  const line = formatFunctionLine(entry.message, entry.level, format);
  return line === undefined ? undefined : { source: entry.source, level: line.level, message: line.text };
}

/** Keeps log entries in memory (for tests): `collector.sink` is the sink. */
export class LogCollector {
  readonly entries: LogEntry[] = [];
  readonly sink: LogSink = (entry) => {
    this.entries.push(entry);
  };

  /** Messages from one source. */
  from(source: string): string[] {
    return this.entries.filter((entry) => entry.source === source).map((entry) => entry.message);
  }

  /** Every message that is a JSON object (the structured lines functions print), parsed. */
  jsonObjects(): Record<string, unknown>[] {
    return this.entries.flatMap((entry) => {
      if (!entry.message.startsWith('{')) return [];
      try {
        const line: unknown = JSON.parse(entry.message);
        return isRecord(line) ? [line] : [];
      } catch {
        return [];
      }
    });
  }
}

/** Splits a byte stream into lines and hands each complete line to `onLine`. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line.replace(/\r$/, ''));
    },
    flush() {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}
