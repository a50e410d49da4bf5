/**
 * The `hopper` command. `npx hopper dev` (or `npm run dev`) runs the job system locally; the
 * admin commands (stats, queues, enqueue, retries, scheduled, dead, batch, cron) talk to a job
 * system's HTTP API, local (`--url`) or deployed (`--stack`).
 *
 * Every command loads what it needs when it runs, not before: help and the admin commands never
 * load the local runtime (emulators, esbuild, the CDK), which a team installs as development
 * dependencies at most, and the API client is loaded only to call an API.
 */
import { adminSummary, findCommand, runCommand } from './commands/index.js';
import type { TargetOptions } from './commands/options.js';
import { dev, DEV_USAGE } from './dev.js';

// The AWS SDK warns about Node.js 20 on every client; a local tool has no use for it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE = `Usage: hopper <command> [options]

Commands:
  dev        run the CDK app's job system on this machine (DynamoDB Local, fauxqs, local Lambda)
${adminSummary()}

Run "hopper <command> --help" for a command's options.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'dev':
      return dev(rest);
    case undefined:
      // A command line without a command is a wrong one (docs/cli.md): usage on stderr, exit 2.
      process.stderr.write(`hopper: no command given\n\n${USAGE}`);
      return 2;
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n${DEV_USAGE}`);
      return 0;
    default: {
      const admin = findCommand(command);
      if (admin === undefined) {
        process.stderr.write(`hopper: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
      }
      const io = {
        stdout: (text: string) => { process.stdout.write(text); },
        stderr: (text: string) => { process.stderr.write(text); },
        stderrIsTTY: process.stderr.isTTY === true,
        env: process.env,
      };
      const connect = async (target: TargetOptions) => (await import('./commands/target.js')).resolveTarget(target, io);
      return runCommand(admin, rest, { io, connect, now: Date.now });
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit once stdout has drained (a piped `--json` answer must arrive whole), without waiting
    // for idle keep-alive sockets.
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`hopper: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
