/**
 * Where a JobSystem's configuration goes: the variables that grow with the stack (one entry per
 * queue, cron, quota or tenant: lib/config/document.ts) into one item of the state table, written
 * at deploy by the configuration function (a custom resource); the fixed ones, and the document's
 * version, into each function's environment. Lambda's 4 KB environment then holds the same few
 * variables at 1 queue or 500, and a change of the document changes every configured function's
 * `HOPPER_CONFIG`, so Lambda replaces their instances and each reads the new document once.
 */
import { createHash } from 'node:crypto';
import { CustomResource, Duration, Lazy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CONFIG_ITEM, DOCUMENT_VARIABLES, partOf, type ConfigPart } from '../lib/config/document.js';
import { ENV } from '../lib/config/env.js';
import { longestJsonBytes } from './environment-size.js';
import { HopperFunction } from './hopper-function.js';
import { hopperEntry } from './hopper-package.js';
import { grantStateItems } from './job-system-grants.js';

const DOCUMENTED: ReadonlySet<string> = new Set(DOCUMENT_VARIABLES);

/**
 * Largest a part's properties may come to, every token at its longest. CloudFormation passes them
 * to the function in its request — twice in an update (the old and the new) — and Lambda took at
 * most 256 KB in an asynchronous invocation until October 2025 (1 MB since): the request stays
 * under the older limit, and the item far under DynamoDB's 400 KB.
 */
export const MAX_PART_BYTES = 120_000;

/** What the configuration is built from. */
export interface JobSystemConfigurationProps {
  readonly stateTable: dynamodb.ITable;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** One item of the document: its custom resource, its variables and its version. */
interface Part {
  readonly resource: CustomResource;
  readonly variables: Record<string, string>;
  /** A digest of the resolved variables, known at synth. */
  readonly version: string;
}

/**
 * The configuration document of a JobSystem and the functions that read it. Two parts: the
 * mappings' ids (read by the API function only) are written after the workers exist, and the rest
 * before them, since the workers read it.
 */
export class JobSystemConfiguration extends Construct {
  /** The function that writes the document (`ConfigFunction`). */
  readonly writer: lambda.Function;
  private readonly stateTable: dynamodb.ITable;
  private readonly parts: Readonly<Record<ConfigPart, Part>>;

  constructor(scope: Construct, id: string, props: JobSystemConfigurationProps) {
    super(scope, id);
    this.stateTable = props.stateTable;
    this.writer = new HopperFunction(this, 'ConfigFunction', {
      entry: hopperEntry('config'),
      description: 'Hopper configuration: writes the JobSystem\'s configuration document into the state table at deploy',
      timeout: Duration.seconds(30),
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
    }).function;
    grantStateItems(this.writer, this.stateTable, ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [CONFIG_ITEM.pk]);
    this.parts = {
      [CONFIG_ITEM.parts.document]: this.part('Document', CONFIG_ITEM.parts.document),
      [CONFIG_ITEM.parts.mappings]: this.part('Mappings', CONFIG_ITEM.parts.mappings),
    };
  }

  /**
   * Gives `fn` `variables`: those that grow with the stack go into the document, the others and
   * `HOPPER_CONFIG` into its environment; then {@link attach}es it.
   */
  configure(fn: lambda.Function, variables: Readonly<Record<string, string>>): void {
    for (const [name, value] of Object.entries(this.environmentOf(variables))) fn.addEnvironment(name, value);
    this.attach(fn, variables);
  }

  /**
   * Lets `fn` read the document, and has CloudFormation update it after the parts that `variables`
   * (what `fn` was given) touch.
   */
  attach(fn: lambda.Function, variables: Readonly<Record<string, string>> = {}): void {
    this.grantRead(fn);
    for (const part of this.partsOf(variables)) fn.node.addDependency(this.parts[part].resource);
  }

  /** `dynamodb:Query` on the document's partition, for a function configured where it is defined. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return grantStateItems(grantee, this.stateTable, ['dynamodb:Query'], [CONFIG_ITEM.pk]);
  }

  /**
   * Puts the variables of `variables` that grow with the stack into the document, and returns the
   * others with `HOPPER_CONFIG` (the versions of the parts they touch): the environment of a
   * function that reads the document.
   */
  environmentOf(variables: Readonly<Record<string, string>>): Record<string, string> {
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(variables)) {
      if (DOCUMENTED.has(name)) this.parts[partOf(name)].variables[name] = value;
      else environment[name] = value;
    }
    environment[ENV.configVersion] = this.partsOf(variables).map((part) => this.parts[part].version).join('.');
    return environment;
  }

  /** The document part, and the mappings part when `variables` holds mappings' ids. */
  private partsOf(variables: Readonly<Record<string, string>>): ConfigPart[] {
    return ENV.queueMappings in variables || ENV.tierMappings in variables ? [CONFIG_ITEM.parts.document, CONFIG_ITEM.parts.mappings] : [CONFIG_ITEM.parts.document];
  }

  private part(id: string, sortKey: ConfigPart): Part {
    const variables: Record<string, string> = {};
    // Workers and producers are configured after this exists: both values are produced at synth.
    // The digest is of the template's form ({"Ref": logical id}), which changes whenever a value
    // refers to another resource; it would miss a resource replaced under the same logical id, which
    // the JobSystem never does (its queues have no name or FIFO setting to change, and a mapping is
    // replaced only with its queue).
    const version = Lazy.string({
      produce: () => createHash('sha256').update(JSON.stringify(Stack.of(this).resolve({ ...variables }))).digest('hex').slice(0, 16),
    });
    const properties = { TableName: this.stateTable.tableName, Part: sortKey, Version: version, Variables: Lazy.any({ produce: () => ({ ...variables }) }) };
    const resource = new CustomResource(this, id, {
      serviceToken: this.writer.functionArn,
      resourceType: 'Custom::HopperConfiguration',
      properties,
      // A function that never answers fails the deploy in minutes, not CloudFormation's hour.
      serviceTimeout: Duration.minutes(5),
    });
    resource.node.addValidation({
      validate: () => {
        const bytes = longestJsonBytes(this, properties);
        return bytes <= MAX_PART_BYTES ? [] : [
          `the configuration document's ${sortKey} part comes to ${bytes.toLocaleString('en-US')} bytes with every name and URL at its longest, over the ${MAX_PART_BYTES.toLocaleString('en-US')} bytes CloudFormation can pass its function in an update; `
          + 'split the queues, crons, quotas and tenants across JobSystems',
        ];
      },
    });
    return { resource, variables, version };
  }
}
