/**
 * `AWS::Lambda::Function` → what the function host needs to run it: the code directory (a bundled
 * asset, or inline `ZipFile` code), the handler, memory, timeout and environment.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Properties } from '../template/properties.js';
import { localArn, physicalName } from '../identity.js';

/** Lambda's defaults for what a template may leave out. */
export const LAMBDA_DEFAULTS = {
  memorySizeMb: 128,
  timeoutSeconds: 3,
} as const;

/**
 * The runtimes the local runtime hosts: Node.js in its own runner, Python under its Runtime API
 * bootstrap, and custom runtimes (`provided`, `provided.al2`, `provided.al2023`) from their own
 * `bootstrap`.
 */
export type RuntimeFamily = 'node' | 'python' | 'custom';

/** The family of a Lambda runtime identifier, or undefined when it cannot run locally. */
export function runtimeFamily(runtime: string): RuntimeFamily | undefined {
  if (/^nodejs\d/.test(runtime)) return 'node';
  if (/^python3\.\d+$/.test(runtime)) return 'python';
  if (runtime === 'provided' || /^provided\.al20\d\d$/.test(runtime)) return 'custom';
  return undefined;
}

/** The last path segment of a handler: Node.js exports may nest (`a.b`); Python names one function. */
const HANDLER_SHAPES = {
  node: /^[^.]+(\.[A-Za-z_$][\w$]*)+$/,
  python: /^[^.]+(\.[^.]+)*\.[A-Za-z_]\w*$/,
} as const;

/** A function to host. */
export interface FunctionSpec {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Directory holding the code (LAMBDA_TASK_ROOT). */
  readonly codeDir: string;
  /** The handler string, e.g. `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  /** How its instances run (meaningful only when it is supported). */
  readonly family: RuntimeFamily;
  readonly memorySizeMb: number;
  readonly timeoutSeconds: number;
  /** The function's own environment variables, resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** Reserved concurrency, when the template sets one. */
  readonly reservedConcurrency: number | undefined;
  /** Why the function cannot run locally (a runtime it does not host), if it cannot. */
  readonly unsupported: string | undefined;
}

/** Where function code comes from. */
export interface CodeSources {
  /** Asset object key (the template's S3Key) → local path. */
  readonly assets: ReadonlyMap<string, string>;
  /** Directory to write inline code to. */
  readonly inlineDir: string;
  /** Whether to write inline code (false while only validating). */
  readonly write: boolean;
  /** Directory of the cloud assembly (asset paths in resource metadata are relative to it). */
  readonly assemblyDir: string;
}

/** Parses a function's properties. */
export function parseFunction(props: Properties, stackName: string, code: CodeSources, metadata: Readonly<Record<string, unknown>> = {}): FunctionSpec {
  const name = props.optionalString('FunctionName') ?? physicalName(stackName, props.logicalId, 64);
  const packageType = props.optionalEnum('PackageType', ['Zip', 'Image']) ?? 'Zip';
  const runtime = props.optionalString('Runtime') ?? '';
  const family = runtimeFamily(runtime);
  const unsupported =
    packageType === 'Image'
      ? 'container image functions are not supported locally'
      : family === undefined
        ? `runtime ${JSON.stringify(runtime)} is not supported locally (only nodejs*, python3.* and provided*)`
        : undefined;
  const handler = props.optionalString('Handler') ?? '';
  if (family !== undefined && family !== 'custom' && !HANDLER_SHAPES[family].test(handler.split('/').pop() ?? '')) {
    props.fail(`${props.pathOf('Handler')} must look like file.${family === 'node' ? 'export' : 'function'} (e.g. ${family === 'node' ? 'index.handler' : 'app.handler'}), but ${JSON.stringify(handler)} was provided`);
  }
  const memorySizeMb = props.integer('MemorySize', { min: 128, max: 10_240 }) ?? LAMBDA_DEFAULTS.memorySizeMb;
  const timeoutSeconds = props.integer('Timeout', { min: 1, max: 900 }) ?? LAMBDA_DEFAULTS.timeoutSeconds;
  const environment = props.object('Environment')?.stringMap('Variables') ?? {};
  const reservedConcurrency = props.integer('ReservedConcurrentExecutions', { min: 0 });
  const codeDir = unsupported === undefined ? codeDirectory(props, code, metadata, family === 'python' ? 'index.py' : 'index.js') : '';
  return {
    logicalId: props.logicalId,
    name,
    arn: localArn('lambda', `function:${name}`),
    codeDir,
    handler,
    runtime,
    family: family ?? 'node',
    memorySizeMb,
    timeoutSeconds,
    environment,
    reservedConcurrency,
    unsupported,
  };
}

function codeDirectory(props: Properties, sources: CodeSources, metadata: Readonly<Record<string, unknown>>, inlineFile: string): string {
  const code = props.object('Code');
  if (code === undefined) return props.fail(`${props.pathOf('Code')} is required`);
  const inline = code.optionalString('ZipFile');
  if (inline !== undefined) {
    const dir = join(sources.inlineDir, props.logicalId);
    if (sources.write) {
      mkdirSync(dir, { recursive: true });
      // Lambda saves inline code as index.js (Node.js, CommonJS) or index.py.
      writeFileSync(join(dir, inlineFile), inline);
    }
    return dir;
  }
  const key = code.optionalString('S3Key');
  // CDK also records the asset directory in the resource's metadata (when asset metadata is on).
  const fromMetadata = metadata['aws:asset:path'];
  const path = (key === undefined ? undefined : sources.assets.get(key)) ?? (typeof fromMetadata === 'string' ? join(sources.assemblyDir, fromMetadata) : undefined);
  if (path === undefined) {
    return props.fail(
      `${code.pathOf('S3Key')} ${JSON.stringify(key)} is not an asset of this cloud assembly; local functions need code that CDK bundled (Code.fromAsset, NodejsFunction) or inline code`,
    );
  }
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    props.fail(`its code asset ${path} is not a directory (zip file assets are not supported locally; use a directory asset)`);
  }
  return path;
}
