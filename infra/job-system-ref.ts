/**
 * What a producer needs of a job system ({@link IJobSystem}): its queues, its state table, the
 * right to enqueue and the configuration `Client` reads. A `JobSystem` is one; a job system of
 * another CDK app is imported by its attributes (`JobSystem.fromJobSystemAttributes`).
 */
import { Stack, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { ENV } from '../lib/config/env.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { JOB_DEFAULTS, JOB_LIMITS } from '../lib/job/model.js';
import { checkEnvironmentAtSynth } from './environment-size.js';
import { configurableFunction, grantEnqueueRights, queueArns } from './job-system-grants.js';
import { validateIntegerRange, validateQueueName } from './validation.js';

/**
 * A job system as a producer sees it. Declare props of this type to take a job system from another
 * stack of the same app (CDK turns the references into exports), or import one from another app
 * with `JobSystem.fromJobSystemAttributes`.
 *
 * @example
 * interface ProducerStackProps extends StackProps { readonly jobs: IJobSystem }
 * class ProducerStack extends Stack {
 *   constructor(scope: Construct, id: string, props: ProducerStackProps) {
 *     super(scope, id, props);
 *     const fn = new NodejsFunction(this, 'Signup', { entry: 'src/signup.ts' });
 *     props.jobs.grantEnqueue(fn); // rights, and HOPPER_QUEUE_URLS etc. in fn's environment
 *   }
 * }
 */
export interface IJobSystem extends IConstruct {
  /** The job queues, by queue name. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** The state table: jobs due in more than 15 minutes, batches, unique locks. */
  readonly stateTable: dynamodb.ITable;
  /**
   * Lets `grantee` enqueue jobs with `Client`, and, when `grantee` is a `lambda.Function` (or an
   * alias or version of one), sets {@link clientEnvironment} on its environment.
   *
   * Actions: `sqs:SendMessage` and `sqs:GetQueueUrl` on every job queue; `dynamodb:PutItem` on
   * the state table; `dynamodb:GetItem`, `dynamodb:UpdateItem` and `dynamodb:DeleteItem` on batch,
   * unique-lock and debounce items of the state table (`dynamodb:LeadingKeys` condition).
   */
  grantEnqueue(grantee: iam.IGrantable): iam.Grant;
  /**
   * The environment variables `new Client()` reads (lib/config/env.ts names): `HOPPER_QUEUE_URLS`
   * (JSON, queue name → URL), `HOPPER_STATE_TABLE` and `HOPPER_DEFAULT_RETRY`. Give them to a
   * producer that is not a Lambda function, alongside {@link grantEnqueue} on its role.
   *
   * @example
   * const task = new ecs.FargateTaskDefinition(stack, 'Task');
   * task.addContainer('App', { image, environment: { ...jobs.clientEnvironment() } });
   * jobs.grantEnqueue(task.taskRole);
   */
  clientEnvironment(): Readonly<Record<string, string>>;
}

/** One queue of an imported job system. */
export interface JobQueueAttributes {
  /** `arn:aws:sqs:<region>:<account>:<queue name>`; the queue name ends the URL in the `<id>QueueUrls` output. */
  readonly queueArn: string;
  /**
   * The queue URL.
   * @default - derived from the ARN
   */
  readonly queueUrl?: string;
}

/** What identifies a job system of another CDK app (its stack's outputs say it: `<id>QueueUrls`, `<id>StateTableName`). */
export interface JobSystemAttributes {
  /** The job queues a producer may send to, by queue name. */
  readonly queues: Readonly<Record<string, JobQueueAttributes>>;
  /**
   * Name of the state table, in this stack's account and region (output `<id>StateTableName`).
   * Give this or {@link stateTableArn}.
   * @default - from stateTableArn
   */
  readonly stateTableName?: string;
  /**
   * ARN of the state table, for a job system in another account or region.
   * @default - from stateTableName
   */
  readonly stateTableArn?: string;
  /**
   * The job system's `retry.maxRetries`: the retries a job enqueued without `retry` gets.
   * @default 25
   */
  readonly maxRetries?: number;
}

/**
 * The configuration `Client` reads, from a job system's queues, state table and default retries.
 * `scope` is the job system: the queue URLs are one JSON value built in its stack.
 */
export function clientEnvironmentOf(scope: IConstruct, queues: Readonly<Record<string, sqs.IQueue>>, stateTable: dynamodb.ITable, maxRetries: number): Record<string, string> {
  return {
    [ENV.queueUrls]: queueUrlsJson(scope, queues),
    [ENV.stateTable]: stateTable.tableName,
    [ENV.defaultRetry]: String(maxRetries),
  };
}

/** Queue name → URL as a JSON string (tokens resolved at synth). */
export function queueUrlsJson(scope: IConstruct, queues: Readonly<Record<string, sqs.IQueue>>): string {
  const urls: Record<string, string> = {};
  for (const [name, queue] of Object.entries(queues)) urls[name] = queue.queueUrl;
  return Stack.of(scope).toJsonString(urls);
}

/** `grantEnqueue` of every job system: the rights, and the configuration on a function's environment. */
export function grantEnqueueTo(system: IJobSystem, grantee: iam.IGrantable, arns: readonly string[] = queueArns(system.queues)): iam.Grant {
  const grant = grantEnqueueRights(grantee, arns, system.stateTable);
  const fn = configurableFunction(grantee);
  if (fn !== undefined) {
    for (const [name, value] of Object.entries(system.clientEnvironment())) fn.addEnvironment(name, value);
    checkEnvironmentAtSynth(fn);
  }
  return grant;
}

/**
 * A job system defined in another CDK app, imported by its attributes. Construct ids:
 * `Queue-<name>` (imported queues) and `StateTable` (the imported table); nothing is created.
 */
export class ImportedJobSystem extends Construct implements IJobSystem {
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  readonly stateTable: dynamodb.ITable;
  private readonly maxRetries: number;

  constructor(scope: Construct, id: string, attributes: JobSystemAttributes) {
    super(scope, id);
    const names = Object.keys(attributes.queues);
    if (names.length === 0) throw new ConfigurationError('queues must name at least one queue of the imported job system, but none was provided');
    this.maxRetries = attributes.maxRetries ?? JOB_DEFAULTS.retry;
    validateIntegerRange('maxRetries', this.maxRetries, 0, JOB_LIMITS.maxRetry);
    const queues: Record<string, sqs.IQueue> = {};
    for (const [name, queue] of Object.entries(attributes.queues)) {
      validateQueueName(name);
      if (!Token.isUnresolved(queue.queueArn) && !queue.queueArn.startsWith('arn:')) {
        throw new ConfigurationError(`queues.${name}.queueArn must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue name>), but ${JSON.stringify(queue.queueArn)} was provided`);
      }
      queues[name] = sqs.Queue.fromQueueAttributes(this, `Queue-${name}`, queue);
    }
    this.queues = queues;
    this.stateTable = importedStateTable(this, attributes);
  }

  grantEnqueue(grantee: iam.IGrantable): iam.Grant {
    return grantEnqueueTo(this, grantee);
  }

  clientEnvironment(): Readonly<Record<string, string>> {
    return clientEnvironmentOf(this, this.queues, this.stateTable, this.maxRetries);
  }
}

/** The state table named by exactly one of `stateTableName` and `stateTableArn`, imported as `StateTable`. */
function importedStateTable(scope: Construct, { stateTableName, stateTableArn }: JobSystemAttributes): dynamodb.ITable {
  if (stateTableName !== undefined && stateTableArn !== undefined) {
    throw new ConfigurationError('give one of stateTableName and stateTableArn, but both were provided');
  }
  if (stateTableName !== undefined) return dynamodb.Table.fromTableName(scope, 'StateTable', stateTableName);
  if (stateTableArn !== undefined) return dynamodb.Table.fromTableArn(scope, 'StateTable', stateTableArn);
  throw new ConfigurationError('give stateTableName (the <id>StateTableName output) or stateTableArn, but neither was provided');
}
