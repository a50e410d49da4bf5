/**
 * `startLocal()`: runs a CDK stack on this machine. Synthesizes the app (or takes a cloud
 * assembly), validates the whole template, starts fauxqs and DynamoDB Local, creates the queues
 * and tables the template declares, and runs its Lambda functions with their event source
 * mappings, schedules and function URLs — what deploys is what runs.
 *
 * @example
 * const local = await startLocal({ app: 'npx tsx infra/app.ts', stack: 'HopperDemo' });
 * await sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl('default'), MessageBody: '…' }));
 * await local.stop();
 */
import { randomBytes } from 'node:crypto';
import { LogStore } from './log-store.js';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { instrument } from '../lib/aws/clients.js';
import { LAMBDA_LIMITS } from '../lib/aws/lambda-limits.js';
import { ENV } from '../lib/config/env.js';
import { listStacks, pickStack, readFileAssets, readTemplateJson } from './assembly/cloud-assembly.js';
import { prepareAssembly } from './assembly/prepare.js';
import { synthesize } from './assembly/synth.js';
import { restoreSynth, storeSynth, synthCacheEnabled, synthKey, SYNTH_CACHE_ENV } from './assembly/synth-cache.js';
import { Clock } from './clock.js';
import { LOG_FORMATS } from '../lib/observability/console-format.js';
import { LOCAL_IDENTITY, startEmulators, type Emulators } from './emulators.js';
import { AsyncInvoker } from './host/async-invoke.js';
import { AccountConcurrency } from './host/concurrency.js';
import { functionBaseEnv } from './host/function-env.js';
import { FunctionPool } from './host/function-pool.js';
import { pythonBootstrapPath, runnerPath } from './host/runner-build.js';
import { serveFunctionUrl } from './http/function-url-server.js';
import { bindLoopback, boundPort, closeServer } from './http/loopback.js';
import { startLambdaApi, type LambdaApiServer, type MappingHandle } from './http/lambda-api.js';
import { RUNTIME_SOURCE, streamSink, type LogSink } from './log.js';
import { SqsPoller } from './mappings/sqs-poller.js';
import { StreamPoller } from './mappings/stream-poller.js';
import { LOCAL_DEFAULTS, PYTHON_ENV, type StartLocalOptions } from './options.js';
import { runtimeApi, type LocalEndpoints, type LocalRuntime } from './runtime-api.js';
import { dryBackend, emulatorBackend } from './resources/backend.js';
import { checkEnvironmentSizes, checkReservedConcurrency } from './resources/lambda-checks.js';
import { createCustomResources } from './resources/custom-resource.js';
import { findFunction, planStack } from './resources/plan.js';
import { SQS_DEFAULT_VISIBILITY_SECONDS } from './resources/queue.js';
import { LocalScheduler } from './schedules/scheduler.js';
import { scheduleTargets } from './schedules/targets.js';
import { parseTemplate, type CfnTemplate } from './template/model.js';

export type { StartLocalOptions } from './options.js';
export type { LocalEndpoints, LocalFunction, LocalMapping, LocalQueue, LocalRuntime, LocalTable, MappingSelector } from './runtime-api.js';

interface Loaded {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly assemblyDir: string;
  readonly assets: ReadonlyMap<string, string>;
}

async function loadStack(options: StartLocalOptions, projectDir: string, cleanups: (() => Promise<void> | void)[], onReuse: () => void): Promise<Loaded> {
  let assemblyDir = options.assemblyDir === undefined ? undefined : resolve(options.assemblyDir);
  if (assemblyDir === undefined) {
    const dir = createAssemblyDir(join(projectDir, '.hopper'));
    // Removed by stop(), and also when the process exits without it (a second Ctrl-C).
    const remove = () => rmSync(dir, { recursive: true, force: true });
    process.on('exit', remove);
    cleanups.push(() => {
      process.off('exit', remove);
      remove();
    });
    const request = { projectDir, ...(options.app === undefined ? {} : { app: options.app }), ...(options.stack === undefined ? {} : { stack: options.stack }), ...(options.context === undefined ? {} : { context: options.context }) };
    const cacheDir = join(projectDir, '.hopper', 'synth-cache');
    const key = synthCacheEnabled(process.env) ? synthKey(request, process.env) : undefined;
    if (key === undefined || !restoreSynth(cacheDir, key, dir)) {
      await synthesize({ ...request, outDir: dir });
      if (key !== undefined) storeSynth(cacheDir, key, dir);
    } else onReuse();
    assemblyDir = dir;
  }
  const stack = pickStack(listStacks(assemblyDir), options.stack);
  const template = parseTemplate(readTemplateJson(stack), stack.templatePath);
  prepareAssembly(assemblyDir, projectDir);
  return { template, stackName: stack.stackName, assemblyDir, assets: readFileAssets(stack) };
}

/**
 * A fresh directory per run (runtimes started side by side, such as test files, never share one),
 * named after this process; those of processes that no longer run (killed before they could clean
 * up) are removed first.
 */
function createAssemblyDir(parent: string): string {
  mkdirSync(parent, { recursive: true });
  for (const entry of readdirSync(parent)) {
    const pid = ASSEMBLY_DIR.exec(entry)?.[1];
    if (pid !== undefined && !isRunning(Number(pid))) rmSync(join(parent, entry), { recursive: true, force: true });
  }
  const dir = join(parent, `cdk.out-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

const ASSEMBLY_DIR = /^cdk\.out-(\d+)-[0-9a-f]{6}$/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}

/** Binds one loopback server per function URL in the template (its port goes into the URL). */
async function bindUrlServers(template: CfnTemplate, firstPort: number | undefined, cleanups: (() => Promise<void> | void)[]): Promise<Map<string, Server>> {
  const ids = [...template.resources.values()].filter((resource) => resource.type === 'AWS::Lambda::Url').map((resource) => resource.logicalId).sort();
  const servers = new Map<string, Server>();
  cleanups.push(() => Promise.all([...servers.values()].map((server) => closeServer(server))).then(() => undefined));
  for (const [index, id] of ids.entries()) servers.set(id, await bindLoopback(firstPort === undefined ? 0 : firstPort + index));
  return servers;
}

/**
 * Starts the local runtime for one stack.
 *
 * @throws TemplateError naming the resource when the template has something the runtime cannot run.
 * @throws SynthError when the app does not synthesize.
 */
export async function startLocal(options: StartLocalOptions = {}): Promise<LocalRuntime> {
  const started = Date.now();
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const log = options.logs ?? streamSink(process.stderr, { console: { format: options.logFormat ?? LOG_FORMATS.json, metrics: options.showMetrics ?? false } });
  const cleanups: (() => Promise<void> | void)[] = [];
  const runCleanups = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log({ source: RUNTIME_SOURCE, level: 'warn', message: `while stopping: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
  };
  try {
    const emulatorOptions = { ...(options.sqsPort === undefined ? {} : { sqsPort: options.sqsPort }), ...(options.dynamodbPort === undefined ? {} : { dynamodbPort: options.dynamodbPort }), ...(options.partitionLimit === undefined ? {} : { partitionLimit: options.partitionLimit }), ...(options.fairQueues === undefined ? {} : { fairQueues: options.fairQueues }) };
    // Synthesis takes seconds: start the emulators (a JVM) meanwhile. With a ready-made assembly,
    // validate first so that a malformed template fails before anything starts.
    const early = options.assemblyDir === undefined ? startEmulators(emulatorOptions) : undefined;
    // The function runner is built (esbuild) meanwhile too.
    const runner = options.assemblyDir === undefined ? runnerPath() : undefined;
    runner?.catch(() => undefined);
    early?.then(
      (emulators) => cleanups.push(() => emulators.stop()),
      () => undefined,
    );
    let emulators: Emulators;
    try {
      const loaded = await loadStack(options, projectDir, cleanups, () => log({ source: RUNTIME_SOURCE, level: 'debug', message: `synth reused: the app's files, lockfile, command and environment are those of a previous run (${SYNTH_CACHE_ENV}=off synthesizes every time)` }));
      log({ source: RUNTIME_SOURCE, level: 'debug', message: `stack ${loaded.stackName} loaded in ${Date.now() - started} ms` });
      const code = { assets: loaded.assets, inlineDir: join(loaded.assemblyDir, 'hopper-inline'), assemblyDir: loaded.assemblyDir };
      const dry = await planStack({ template: loaded.template, stackName: loaded.stackName, code: { ...code, write: false }, backend: dryBackend() });
      // What Lambda would refuse when the stack is created, refused before anything starts.
      checkEnvironmentSizes(dry.functions);
      checkReservedConcurrency(dry.functions, options.accountConcurrency ?? LAMBDA_LIMITS.accountConcurrency);
      if (early === undefined) {
        emulators = await startEmulators(emulatorOptions);
        cleanups.push(() => emulators.stop());
      } else emulators = await early;
      log({ source: RUNTIME_SOURCE, level: 'debug', message: `emulators ready at ${Date.now() - started} ms` });
      return await wire({ options, log, loaded, code, emulators, runner, projectDir, cleanups, runCleanups, started });
    } finally {
      // Whatever happened, wait for the early start to settle so that its cleanup is registered.
      await early?.catch(() => undefined);
    }
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

interface WireInput {
  readonly options: StartLocalOptions;
  readonly log: LogSink;
  readonly loaded: Loaded;
  readonly code: { readonly assets: ReadonlyMap<string, string>; readonly inlineDir: string; readonly assemblyDir: string };
  readonly emulators: Emulators;
  /** Path of the function runner, when its build was started early. */
  readonly runner: Promise<string> | undefined;
  readonly projectDir: string;
  readonly cleanups: (() => Promise<void> | void)[];
  readonly runCleanups: () => Promise<void>;
  readonly started: number;
}

async function wire(input: WireInput): Promise<LocalRuntime> {
  const { options, log, loaded, emulators, cleanups } = input;
  const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };
  const clientConfig = { region: LOCAL_IDENTITY.region, credentials };
  const runtimeSqs = new SQSClient({ ...clientConfig, endpoint: emulators.endpoints.sqs, useQueueUrlAsEndpoint: false });
  const sqs = options.instrumentRuntimeSqs === true ? instrument(runtimeSqs) : runtimeSqs;
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: emulators.endpoints.dynamodb });
  const streams = new DynamoDBStreamsClient({ ...clientConfig, endpoint: emulators.endpoints.dynamodb });
  cleanups.push(() => {
    sqs.destroy();
    dynamodb.destroy();
    streams.destroy();
  });
  const urlServersById = await bindUrlServers(loaded.template, options.functionUrlPort, cleanups);
  const ports = new Map([...urlServersById].map(([id, server]) => [id, boundPort(server)]));
  const plan = await planStack({ template: loaded.template, stackName: loaded.stackName, code: { ...input.code, write: true }, backend: emulatorBackend(sqs, dynamodb, ports) });
  for (const warning of plan.warnings) log({ source: RUNTIME_SOURCE, level: 'warn', message: warning });

  const clock = new Clock(options.clockOffsetMs ?? 0);
  const asyncInvoker = new AsyncInvoker(log, options.asyncRetryDelaysMs, (pool) => plan.asyncConfigs.get(pool.spec.arn) ?? {});
  const pools = new Map<string, FunctionPool>();
  const mappingHandles: (MappingHandle & { readonly poller: SqsPoller | StreamPoller; readonly functionLogicalId: string; readonly sourceLogicalId: string })[] = [];
  const findPool = (nameOrArn: string): FunctionPool | undefined => {
    const byId = pools.get(nameOrArn);
    if (byId !== undefined) return byId;
    const spec = findFunction(plan.functions, nameOrArn);
    return spec === undefined ? undefined : pools.get(spec.logicalId);
  };
  const logStore = new LogStore();
  const lambdaApi: LambdaApiServer = await startLambdaApi(options.lambdaPort ?? 0, { mappings: () => mappingHandles, findFunction: findPool, asyncInvoker, log, mappingUpdateMs: options.mappingUpdateMs ?? LOCAL_DEFAULTS.mappingUpdateMs, logStore });
  cleanups.push(() => lambdaApi.close());
  const endpoints: LocalEndpoints = { ...emulators.endpoints, lambda: lambdaApi.url };
  const runner = await (input.runner ?? runnerPath());
  const hostsPython = plan.functions.some((spec) => spec.unsupported === undefined && spec.family === 'python');
  const python = { command: options.python ?? process.env[PYTHON_ENV] ?? 'python3', bootstrapPath: hostsPython ? await pythonBootstrapPath() : '' };
  // The readable console shows a line per job success, which the worker logs at DEBUG only.
  const jobEventLogs: Record<string, string> = options.logFormat === LOG_FORMATS.readable ? { [ENV.logLevel]: 'DEBUG' } : {};
  const account = new AccountConcurrency(options.accountConcurrency ?? LAMBDA_LIMITS.accountConcurrency, plan.functions);
  // Stopping: pollers are told to stop first, then the pools kill their instances (which ends any
  // invocation in flight), and only then are the pollers awaited — a long invocation never delays it.
  const pollerStops: Promise<void>[] = [];
  cleanups.push(() => Promise.all(pollerStops).then(() => undefined));
  for (const spec of plan.functions) {
    const pool = new FunctionPool(spec, {
      runnerPath: runner,
      python,
      log,
      baseEnv: (fn) => ({ ...functionBaseEnv(fn, endpoints, input.projectDir), AWS_ENDPOINT_URL: lambdaApi.url, ...jobEventLogs, ...options.functionEnv }),
      defaultConcurrency: options.functionConcurrency ?? LOCAL_DEFAULTS.functionConcurrency,
      account,
      idleTimeoutMs: options.idleTimeoutMs ?? LOCAL_DEFAULTS.idleTimeoutMs,
      initTimeoutMs: LOCAL_DEFAULTS.initTimeoutMs,
      preload: options.functionPreload ?? [],
      logStore,
    });
    pool.setClockOffset(clock.offsetMs);
    pools.set(spec.logicalId, pool);
  }
  cleanups.push(() => Promise.all([...pools.values()].map((pool) => pool.stop())).then(() => undefined));
  cleanups.push(() => asyncInvoker.stop());
  clock.onChange((offset) => {
    for (const pool of pools.values()) pool.setClockOffset(offset);
  });

  // Custom resources (the configuration document) exist before anything polls or is scheduled.
  await createCustomResources(plan.customResources, loaded.stackName, async (arn, event) => {
    const pool = findPool(arn);
    if (pool === undefined) return { ok: false, error: { errorType: 'ResourceNotFoundException', errorMessage: `the ServiceToken ${arn} is not a function of the stack; the local runtime runs Lambda-backed custom resources only` } };
    return pool.invoke(event);
  });

  const queueByArn = new Map(plan.queues.map((queue) => [queue.arn, queue]));
  for (const mapping of plan.mappings) {
    const pool = findPool(mapping.functionName);
    if (pool === undefined) continue;
    let poller: SqsPoller | StreamPoller;
    let sourceLogicalId: string;
    if (mapping.kind === 'sqs') {
      const queue = queueByArn.get(mapping.eventSourceArn);
      if (queue === undefined) continue;
      sourceLogicalId = queue.logicalId;
      const visibilityTimeoutSeconds = Number(queue.attributes.VisibilityTimeout ?? SQS_DEFAULT_VISIBILITY_SECONDS);
      poller = new SqsPoller({ mapping, queueUrl: queue.url, queueName: queue.name, pool, client: sqs, log, defaultConcurrency: options.sqsConcurrency ?? LOCAL_DEFAULTS.sqsConcurrency, visibilityTimeoutSeconds });
    } else {
      const table = plan.tables.find((candidate) => candidate.streamArn === mapping.eventSourceArn);
      if (table === undefined) continue;
      sourceLogicalId = table.logicalId;
      poller = new StreamPoller({ mapping, tableName: table.name, pool, streams, sqs, queueUrl: (arn) => queueByArn.get(arn)?.url, log });
    }
    let lastModified = Date.now() / 1000;
    const target = poller;
    mappingHandles.push({
      spec: mapping,
      functionArn: pool.spec.arn,
      poller: target,
      functionLogicalId: pool.spec.logicalId,
      sourceLogicalId,
      get isEnabled() {
        return target.isEnabled;
      },
      get receiving() {
        return target instanceof SqsPoller && target.receiving;
      },
      get lastModified() {
        return lastModified;
      },
      setEnabled(enabled) {
        lastModified = Date.now() / 1000;
        target.setEnabled(enabled);
      },
      get maximumConcurrency() {
        return target instanceof SqsPoller ? target.maximumConcurrency : undefined;
      },
      setMaximumConcurrency(value) {
        if (!(target instanceof SqsPoller)) return false;
        lastModified = Date.now() / 1000;
        target.setMaximumConcurrency(value);
        return true;
      },
    });
  }
  cleanups.push(() => {
    for (const handle of mappingHandles) pollerStops.push(handle.poller.stop());
  });
  for (const handle of mappingHandles) {
    if (handle.poller instanceof StreamPoller) await handle.poller.start();
    else handle.poller.start();
  }

  const fire = scheduleTargets({ findPool, asyncInvoker, sqs, queueUrl: (arn) => queueByArn.get(arn)?.url });
  const scheduler = new LocalScheduler(plan.schedules, clock, fire, log);
  scheduler.start();
  cleanups.push(() => scheduler.stop());

  for (const url of plan.functionUrls) {
    const pool = findPool(url.targetFunction);
    const server = urlServersById.get(url.logicalId);
    if (pool !== undefined && server !== undefined) serveFunctionUrl(url, pool, log, server);
  }

  // If the process exits without stop(), do not leave children behind.
  const killOnExit = () => {
    for (const pid of allPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const allPids = () => [...(emulators.dynamodbPid === undefined ? [] : [emulators.dynamodbPid]), ...[...pools.values()].flatMap((pool) => pool.pids)];
  process.on('exit', killOnExit);
  cleanups.unshift(() => {
    process.off('exit', killOnExit);
  });

  return runtimeApi({ plan, pools, mappingHandles, scheduler, clock, endpoints, cleanups: input.runCleanups, allPids, partitions: emulators.dynamodbFront, startupMs: Date.now() - input.started, findPool });
}


