/**
 * The IAM grants the parts of a JobSystem share: sending to queues, and writing only the state-table
 * items a principal needs (`dynamodb:LeadingKeys` on the partition key's prefix). Never a wildcard
 * action.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { BATCH_KEYS, BUSY_KEYS, DEBOUNCE_KEYS, COHORT_KEYS, FLOW_KEYS, STATS_KEYS, UNIQUE_KEYS, JOB_STATE_KEYS } from '../lib/storage/keys.js';

/** The ARNs of `queues`, in declaration order. */
export function queueArns(queues: Readonly<Record<string, sqs.IQueue>>): string[] {
  return Object.values(queues).map((queue) => queue.queueArn);
}

/**
 * ARNs per statement of a grant on many resources (about 2,000 characters, the size up to which
 * the CDK merges statements): the CDK moves statements that do not fit a role's inline policy into
 * managed policies of at most 6,144 characters, but cannot split one statement, so a grant naming
 * each of 60 queues in one statement is over that limit however it is packed (infra/iam-size.ts).
 */
const ARNS_PER_STATEMENT = 20;

/** `actions` on `arns`, in statements of at most {@link ARNS_PER_STATEMENT} ARNs. */
export function grantOnEach(grantee: iam.IGrantable, actions: string[], arns: readonly string[], conditions?: Record<string, Record<string, unknown>>): iam.Grant {
  let grant: iam.Grant | undefined;
  for (let start = 0; start < arns.length; start += ARNS_PER_STATEMENT) {
    const part = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: arns.slice(start, start + ARNS_PER_STATEMENT), ...(conditions === undefined ? {} : { conditions }) });
    grant = grant === undefined ? part : grant.combine(part);
  }
  return grant ?? iam.Grant.drop(grantee, actions.join(', '));
}

/** `sqs:SendMessage` on `arns`. */
export function grantSend(grantee: iam.IGrantable, arns: readonly string[]): iam.Grant {
  return grantOnEach(grantee, ['sqs:SendMessage'], arns);
}

/**
 * Grants `actions` on the items of `stateTable` (or the limits table) whose partition key starts with one of `prefixes`
 * (DynamoDB checks each item of a transaction against its own action, so transactions need no
 * action of their own).
 */
export function grantStateItems(grantee: iam.IGrantable, stateTable: dynamodb.ITable, actions: string[], prefixes: readonly string[]): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions,
    resourceArns: [stateTable.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) } },
  });
}

/**
 * Stats rollups and cohorts: `UpdateItem`s per flush, on the stats and cohorts partitions only; and
 * for a worker (`runsJobs`), its busy reports (lib/stats/busy.ts: written, then deleted) on the busy
 * partition.
 */
export function grantStats(grantee: iam.IGrantable, stateTable: dynamodb.ITable, runsJobs = false): iam.Grant {
  const stats = grantStateItems(grantee, stateTable, ['dynamodb:UpdateItem'], [STATS_KEYS.partition, COHORT_KEYS.partition]);
  return runsJobs ? stats.combine(grantStateItems(grantee, stateTable, ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [BUSY_KEYS.partition])) : stats;
}

/**
 * What a producer needs to enqueue: `sqs:SendMessage` and `sqs:GetQueueUrl` on every job queue (`arns`);
 * `dynamodb:PutItem` on the state table (jobs due in more than 15 minutes); `dynamodb:GetItem`,
 * `dynamodb:UpdateItem` and `dynamodb:DeleteItem` on its batch, unique-lock and debounce items; `dynamodb:GetItem`
 * on tracked jobs' states (`Client.status`, `Client.result`) and on flow items (`Client.getFlow`; `Client.flow`
 * writes one with the `PutItem` above).
 */
export function grantEnqueueRights(grantee: iam.IGrantable, arns: readonly string[], stateTable: dynamodb.ITable): iam.Grant {
  return grantOnEach(grantee, ['sqs:SendMessage', 'sqs:GetQueueUrl'], arns).combine(iam.Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:PutItem'],
    resourceArns: [stateTable.tableArn],
  })).combine(grantStateItems(grantee, stateTable, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [BATCH_KEYS.prefix, UNIQUE_KEYS.prefix, DEBOUNCE_KEYS.prefix]))
    .combine(grantStateItems(grantee, stateTable, ['dynamodb:GetItem'], [JOB_STATE_KEYS.prefix, FLOW_KEYS.prefix]));
}

/**
 * The `lambda.Function` of this app behind `target`: itself, or the function of an alias or
 * version. Undefined for anything else (a role, an imported function), whose environment the
 * JobSystem cannot set.
 */
export function configurableFunction(target: unknown): lambda.Function | undefined {
  const fn = target instanceof lambda.Alias || target instanceof lambda.Version ? target.lambda : target;
  return fn instanceof lambda.Function ? fn : undefined;
}
