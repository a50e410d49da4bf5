/**
 * `hopper dashboard`: serves the dashboard on 127.0.0.1 for the target's API (cli/dashboard). For
 * a deployed stack every forwarded request is signed with the user's AWS credentials, as the
 * other commands' requests are; nothing is opened to the network.
 */
import type { DashboardServer } from '../dashboard/server.js';
import type { Command, CommandContext } from './command.js';
import { targetOf } from './command.js';
import { CliError, printJson, usageError } from './io.js';
import { intOption, parseCommand } from './options.js';

/** The port `hopper dashboard` listens on without `--port`. */
export const DASHBOARD_DEFAULT_PORT = 4580;

/** Resolves on Ctrl-C (SIGINT) or SIGTERM. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Runs the dashboard until `until` resolves (the command: until Ctrl-C), then stops it.
 *
 * @throws CliError for a wrong command line, a target that cannot be found, or a port in use.
 */
export async function serveDashboard(args: readonly string[], ctx: CommandContext, until: Promise<unknown>): Promise<void> {
  const { values, positionals } = parseCommand(args, { port: { type: 'string' } });
  if (positionals.length > 0) throw usageError(`dashboard takes no arguments, but ${JSON.stringify(positionals[0])} was provided`);
  const port = intOption(values.port, 'port', 0, 65_535) ?? DASHBOARD_DEFAULT_PORT;
  const api = await ctx.connect(targetOf(values));
  const { startDashboardServer } = await import('../dashboard/server.js');
  let server: DashboardServer;
  try {
    server = await startDashboardServer({ api, port });
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') throw new CliError(`port ${port} on 127.0.0.1 is in use; pass --port <n>, or --port 0 for any free port`);
    throw error;
  }
  try {
    if (values.json) printJson(ctx.io, { url: server.url });
    else ctx.io.stdout(`Hopper dashboard on ${server.url} (Ctrl-C stops it)\n`);
    await until;
  } finally {
    await server.close();
  }
}

/** `hopper dashboard`. */
export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve the dashboard on 127.0.0.1 for a local or deployed job system',
  usage: `Usage: hopper dashboard [--port <n>]

Serves the dashboard on http://127.0.0.1:<port>/ (only this machine can open it) and forwards its
API calls to the target, signed with your AWS credentials for a deployed stack. Ctrl-C stops it.

Options:
  --port <n>           port on 127.0.0.1 (default: ${DASHBOARD_DEFAULT_PORT}; 0 picks a free one)
`,
  run: (args, ctx) => serveDashboard(args, ctx, untilSignal()),
};
