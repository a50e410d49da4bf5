/**
 * A Node.js Lambda function with Hopper's defaults: the newest Node.js runtime, arm64, an ESM
 * bundle with the AWS SDK left to the runtime, its own log group with a retention, and its own role
 * that may write to that log group and nothing else (no AWS managed policy).
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HOPPER_ESBUILD, prebuiltAssetDir } from './hopper-package.js';
import { checkEnvironmentAtSynth } from './environment-size.js';
import type { MiddlewareBundle } from './middleware-bundle.js';
import { ENV } from '../lib/config/env.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { MIDDLEWARE_BUNDLE } from '../lib/middleware/load.js';

/** The runtime Hopper's functions run on: the newest Node.js that CDK offers. */
export const HOPPER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * Bundling every function made with `HopperFunction` gets unless its props say otherwise (the
 * options Hopper's own prebuilt functions are bundled with): an ESM bundle (smaller, faster cold
 * starts, top-level await), minified with a source map but class names kept, the AWS SDK v3 taken
 * from the Lambda runtime, and a `require` defined for the CommonJS dependencies esbuild inlines into ESM.
 */
export const HOPPER_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  minify: HOPPER_ESBUILD.minify,
  // Errors are recognised by name across bundles (lib/errors/base.ts) and stored as `errtype`:
  // minification must not rename classes.
  keepNames: HOPPER_ESBUILD.keepNames,
  sourceMap: HOPPER_ESBUILD.sourcemap,
  externalModules: [...HOPPER_ESBUILD.external],
  mainFields: [...HOPPER_ESBUILD.mainFields],
  banner: HOPPER_ESBUILD.banner,
};

/** Props of a {@link HopperFunction}: those of `NodejsFunction`, minus what Hopper decides. */
export interface HopperFunctionProps extends Omit<nodejs.NodejsFunctionProps, 'role' | 'logGroup' | 'logRetention' | 'entry'> {
  /**
   * Path of the TypeScript or JavaScript file that exports the handler. One of Hopper's prebuilt
   * bundles (`hopperEntry('retry')`) is deployed as it is, without bundling.
   */
  readonly entry: string;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The team's middleware, for one of Hopper's prebuilt functions: deployed next to its bundle and
   * loaded by it (the JobSystem's `middleware` prop). A worker imports its middleware itself.
   */
  readonly middleware?: MiddlewareBundle;
}

/**
 * A `NodejsFunction` with Hopper's defaults, an explicit log group and a least-privilege role.
 * Use it for workers too: `jobs.addWorker(new HopperFunction(this, 'Worker', { entry }).function, …)`.
 * Hopper's own functions are made with it from their prebuilt bundles (a plain `lambda.Function`
 * with the same defaults and the bundle's folder as its code).
 *
 * Construct ids: `Role`, `Logs`, `Function`.
 *
 * @example
 * const worker = new HopperFunction(stack, 'Worker', { entry: 'src/worker.ts', timeout: Duration.seconds(60) });
 * jobs.addWorker(worker.function, { queues: ['default'] });
 */
export class HopperFunction extends Construct {
  /** The Lambda function (a `NodejsFunction`, unless the entry is one of Hopper's prebuilt bundles). */
  readonly function: lambda.Function;
  /** The function's execution role (log writes only, until something grants it more). */
  readonly role: iam.Role;
  /** The log group the function writes to. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HopperFunctionProps) {
    super(scope, id);
    const { logRetention, bundling, entry, handler, projectRoot, depsLockFilePath, awsSdkConnectionReuse, middleware, ...functionProps } = props;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.logGroup.grantWrite(this.role);
    const common = {
      runtime: HOPPER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      ...functionProps,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        // Backtraces in retries and the dead set point into the TypeScript sources.
        NODE_OPTIONS: '--enable-source-maps',
        ...functionProps.environment,
      },
    };
    const prebuilt = prebuiltAssetDir(entry);
    this.function = prebuilt === undefined
      ? new nodejs.NodejsFunction(this, 'Function', {
        ...common,
        entry,
        ...(handler === undefined ? {} : { handler }),
        ...(projectRoot === undefined ? {} : { projectRoot }),
        ...(depsLockFilePath === undefined ? {} : { depsLockFilePath }),
        ...(awsSdkConnectionReuse === undefined ? {} : { awsSdkConnectionReuse }),
        bundling: { ...HOPPER_BUNDLING, ...bundling },
      })
      : new lambda.Function(this, 'Function', {
        ...common,
        code: lambda.Code.fromAsset(middleware === undefined ? prebuilt : middleware.assetDirFor(prebuilt)),
        handler: 'index.handler',
      });
    if (middleware !== undefined) {
      if (prebuilt === undefined) throw new ConfigurationError(`${this.node.path}: middleware is for Hopper's prebuilt functions; a worker passes its middleware to createWorker({ middleware })`);
      this.function.addEnvironment(ENV.middleware, MIDDLEWARE_BUNDLE.env);
    }
    checkEnvironmentAtSynth(this.function);
  }
}
