/**
 * `hopper dev`: runs the CDK app's stack on this machine (see local/runtime.ts), prints where
 * everything is, and stops everything on Ctrl-C (SIGINT) or SIGTERM, leaving no process behind.
 *
 * The local runtime (emulators, esbuild, the CDK CLI), the dashboard and the API client are loaded
 * when `hopper dev` starts them, so that `hopper --help` and the admin commands work in an app that
 * installs the local runtime's packages as development dependencies only, or not at all.
 */
import { parseArgs } from 'node:util';
import type { LogFormat } from '../lib/observability/console-format.js';
import type { LogSink } from '../local/log.js';
import type { LocalRuntime } from '../local/runtime.js';
import type { StartLocalOptions } from '../local/options.js';
import type { DashboardServer } from './dashboard/server.js';

/** `hopper dev --help`. */
export const DEV_USAGE = `Usage: hopper dev [options]

Synthesizes the CDK app (cdk.json in the current directory), starts DynamoDB Local and fauxqs,
creates the stack's queues and tables and runs its functions, schedules and function URLs.
When the stack has a JobSystem, it also serves the dashboard on 127.0.0.1.

Options:
  --app <command>        CDK app command (default: "app" in cdk.json)
  --stack <name>         stack to run (default: the app's only stack)
  --assembly <dir>       run an already-synthesized cloud assembly instead of synthesizing
  --port <n>             base port: SQS n, DynamoDB n+1, Lambda API n+2, function URLs from n+3
  --sqs-port <n>         SQS (fauxqs) port          (default: free port)
  --dynamodb-port <n>    DynamoDB Local port        (default: free port)
  --lambda-port <n>      local Lambda API port      (default: free port)
  --url-port <n>         first function URL port    (default: free ports)
  --dashboard-port <n>   dashboard port             (default: free port)
  --clock-offset <ms>    shift "now" for schedules and functions
  --partition-limit <n>  throttle writes to a partition key past n write units a second, as
                         DynamoDB throttles a hot partition at 1,000 (default: no limit)
  --demo                 enqueue a few demo jobs once running
  --json                 print one JSON object with the endpoints on stdout (logs stay on stderr);
                         its "env" holds the variables new Client() and hopper <command> need
  --json-logs            show function output as the JSON lines it prints (default: one
                         readable line per job event, such as "SendEmail 4f6c2a… done 12 ms")
  --metrics              also show the functions' CloudWatch metric (EMF) lines
  --quiet                hide function output; show only the runtime's warnings
  --verbose              also show debug messages (schedule firings, every function log line)
  -h, --help             show this help
`;

/** A signal this soon after the first is the same Ctrl-C, relayed. */
const REPEATED_SIGNAL_MS = 1_000;

function portOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`--${name} must be a port number between 1 and 65535, but ${JSON.stringify(value)} was provided`);
  return port;
}

/** Parses `hopper dev` arguments into runtime options and CLI flags. */
export function parseDevArgs(args: readonly string[]): { readonly options: StartLocalOptions; readonly dashboardPort: number; readonly json: boolean; readonly demo: boolean; readonly quiet: boolean; readonly verbose: boolean; readonly help: boolean } {
  const { values } = parseArgs({
    args: [...args],
    options: {
      app: { type: 'string' },
      stack: { type: 'string' },
      assembly: { type: 'string' },
      port: { type: 'string' },
      'sqs-port': { type: 'string' },
      'dynamodb-port': { type: 'string' },
      'lambda-port': { type: 'string' },
      'url-port': { type: 'string' },
      'dashboard-port': { type: 'string' },
      'clock-offset': { type: 'string' },
      'partition-limit': { type: 'string' },
      demo: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'json-logs': { type: 'boolean', default: false },
      metrics: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const base = portOption(values.port, 'port');
  const clockOffset = values['clock-offset'] === undefined ? undefined : Number(values['clock-offset']);
  if (clockOffset !== undefined && !Number.isFinite(clockOffset)) throw new Error(`--clock-offset must be a number of milliseconds, but ${JSON.stringify(values['clock-offset'])} was provided`);
  const partitionLimit = values['partition-limit'] === undefined ? undefined : Number(values['partition-limit']);
  if (partitionLimit !== undefined && !(Number.isFinite(partitionLimit) && partitionLimit > 0)) throw new Error(`--partition-limit must be a positive number of write units per second, but ${JSON.stringify(values['partition-limit'])} was provided`);
  const pick = (value: string | undefined, name: string, offset: number) => portOption(value, name) ?? (base === undefined ? undefined : base + offset);
  const sqsPort = pick(values['sqs-port'], 'sqs-port', 0);
  const dynamodbPort = pick(values['dynamodb-port'], 'dynamodb-port', 1);
  const lambdaPort = pick(values['lambda-port'], 'lambda-port', 2);
  const functionUrlPort = pick(values['url-port'], 'url-port', 3);
  const options: StartLocalOptions = {
    ...(values.app === undefined ? {} : { app: values.app }),
    ...(values.stack === undefined ? {} : { stack: values.stack }),
    ...(values.assembly === undefined ? {} : { assemblyDir: values.assembly }),
    ...(sqsPort === undefined ? {} : { sqsPort }),
    ...(dynamodbPort === undefined ? {} : { dynamodbPort }),
    ...(lambdaPort === undefined ? {} : { lambdaPort }),
    ...(functionUrlPort === undefined ? {} : { functionUrlPort }),
    ...(clockOffset === undefined ? {} : { clockOffsetMs: clockOffset }),
    ...(partitionLimit === undefined ? {} : { partitionLimit: { writeUnitsPerSecond: partitionLimit } }),
    logFormat: (values['json-logs'] ? 'json' : 'readable') satisfies LogFormat,
    showMetrics: values.metrics,
  };
  return { options, dashboardPort: portOption(values['dashboard-port'], 'dashboard-port') ?? 0, json: values.json, demo: values.demo, quiet: values.quiet, verbose: values.verbose, help: values.help };
}

/** Runs `hopper dev`; resolves with the exit code once stopped. */
export async function dev(args: readonly string[]): Promise<number> {
  const parsed = parseDevArgs(args);
  if (parsed.help) {
    process.stdout.write(DEV_USAGE);
    return 0;
  }
  const [{ RUNTIME_SOURCE, streamSink }, { startLocal }, { banner, devSummary, jobSystemApiUrl }] = await Promise.all([
    import('../local/log.js'),
    import('../local/runtime.js'),
    import('./summary.js'),
  ]);
  const toStderr = streamSink(process.stderr, { debug: parsed.verbose, console: { format: parsed.options.logFormat ?? 'readable', metrics: parsed.options.showMetrics ?? false } });
  const log: LogSink = parsed.quiet ? (entry) => (entry.source === RUNTIME_SOURCE && entry.level !== 'info' && entry.level !== 'debug' ? toStderr(entry) : undefined) : toStderr;
  const say = (message: string) => log({ source: RUNTIME_SOURCE, level: 'info', message });

  let local: LocalRuntime | undefined;
  let stopping = false;
  let exitCode = 0;
  let release: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    release = resolve;
  });
  let firstSignalAtMs = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // One Ctrl-C can arrive twice: the terminal signals the whole process group, and a wrapper
      // in it (tsx's CLI under `npm run dev`) relays the signal a few milliseconds later. Only a
      // second Ctrl-C after that means: do not wait for a graceful stop.
      if (Date.now() - firstSignalAtMs < REPEATED_SIGNAL_MS) return;
      process.exit(130);
    }
    stopping = true;
    firstSignalAtMs = Date.now();
    say(`${signal}: stopping`);
    const running = local;
    if (running === undefined) return; // startLocal is still running; it is stopped as soon as it returns.
    running.stop().then(release, (error: unknown) => {
      exitCode = 1;
      say(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
      release();
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  say(`synthesizing ${parsed.options.stack ?? 'the app'} and starting the emulators…`);
  try {
    local = await startLocal({ ...parsed.options, logs: log });
  } catch (error) {
    process.stderr.write(`hopper dev: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (stopping) {
    await local.stop();
    return 0;
  }
  const apiUrl = jobSystemApiUrl(local.outputs);
  let dashboard: DashboardServer | undefined;
  if (apiUrl !== undefined) {
    try {
      const [{ ApiClient }, { startDashboardServer }] = await Promise.all([import('../lib/api-client/index.js'), import('./dashboard/server.js')]);
      // The local API takes unsigned requests.
      dashboard = await startDashboardServer({ api: new ApiClient({ url: apiUrl }), port: parsed.dashboardPort });
    } catch (error) {
      say(`dashboard not started: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const summary = devSummary(local, dashboard?.url);
  if (parsed.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${banner(summary, local)}\n`);
  if (parsed.demo) {
    try {
      const { enqueueDemoJobs } = await import('./demo.js');
      const jids = await enqueueDemoJobs(local);
      say(`enqueued ${jids.length} demo jobs: watch them run, retry and die below`);
    } catch (error) {
      say(`--demo: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  await stopped;
  await dashboard?.close();
  say('stopped');
  return exitCode;
}
