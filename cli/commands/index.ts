/**
 * The admin commands of `hopper` over the HTTP API, their help, and the runner that turns any
 * failure into `error: <message>` with its exit code.
 */
import { batchCommand } from './batch.js';
import { flowCommand } from './flow.js';
import type { Command, CommandContext } from './command.js';
import { cronCommand } from './cron.js';
import { dashboardCommand } from './dashboard.js';
import { enqueueCommand } from './enqueue.js';
import { jobCommand } from './job.js';
import { CliError, EXIT } from './io.js';
import { COMMON_USAGE } from './options.js';
import { limitsCommand } from './limits.js';
import { queueCommand, queuesCommand } from './queues.js';
import { redriveCommand } from './redrive.js';
import { setCommands } from './sets.js';
import { statsCommand } from './stats.js';
import { tailCommand } from './tail.js';
import { processTerminal, topCommand } from './top.js';

/** Every admin command, in help order. */
export const ADMIN_COMMANDS: readonly Command[] = [statsCommand, topCommand(processTerminal), queuesCommand, queueCommand, enqueueCommand, ...setCommands, redriveCommand, jobCommand, batchCommand, flowCommand, cronCommand, limitsCommand, tailCommand(), dashboardCommand];

/** The admin commands' lines of `hopper --help`. */
export function adminSummary(): string {
  return ADMIN_COMMANDS.map((command) => `  ${command.name.padEnd(11)}${command.summary}`).join('\n');
}

/** The admin command called `name`, if there is one. */
export function findCommand(name: string): Command | undefined {
  return ADMIN_COMMANDS.find((command) => command.name === name);
}

/** Runs `command` with `args`; resolves its exit code. Help goes to stdout, errors to stderr. */
export async function runCommand(command: Command, args: readonly string[], ctx: CommandContext): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    ctx.io.stdout(`${command.usage}\n${COMMON_USAGE}`);
    return EXIT.ok;
  }
  try {
    await command.run(args, ctx);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) {
      ctx.io.stderr(`error: ${error.message}\n`);
      if (error.exitCode === EXIT.usage) ctx.io.stderr(`Run "hopper ${command.name} --help" for usage.\n`);
      return error.exitCode;
    }
    ctx.io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}
