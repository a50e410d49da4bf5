/** The shape of an admin command, and what it is given to run. */
import type { ApiCaller, CliIO } from './io.js';
import type { TargetOptions } from './options.js';

/** What a command runs with. */
export interface CommandContext {
  readonly io: CliIO;
  /** The API for the command's target options. */
  readonly connect: (target: TargetOptions) => Promise<ApiCaller>;
  /** Epoch ms (for `--in`). */
  readonly now: () => number;
}

/** One top-level command (`stats`, `retries`, …). */
export interface Command {
  readonly name: string;
  /** One line for `hopper --help`. */
  readonly summary: string;
  /** The command's own help, without the common options. */
  readonly usage: string;
  /** Runs it. @throws CliError to report `error: <message>`. */
  readonly run: (args: readonly string[], ctx: CommandContext) => Promise<void>;
}

/** The target options out of parsed values. */
export function targetOf(values: { readonly url?: string | undefined; readonly stack?: string | undefined; readonly region?: string | undefined }): TargetOptions {
  return {
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(values.stack === undefined ? {} : { stack: values.stack }),
    ...(values.region === undefined ? {} : { region: values.region }),
  };
}
