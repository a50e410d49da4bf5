/**
 * Holds the logical ids, and the properties whose change makes CloudFormation replace the resource,
 * of every stateful resource (job queues, the retries queue and its DLQ, the state and limits
 * tables) against a committed snapshot. A changed logical id means CloudFormation deletes the old
 * resource and creates a new one: the jobs in a queue, and every scheduled job, dead job, batch and
 * lock of a table, are gone (or, for a retained table, orphaned: the app starts from an empty one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CfnResource, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { demoStack, fixtureStack } from './stateful-stacks.js';

const SNAPSHOT_FILE = new URL('./stateful-ids.snapshot.json', import.meta.url);
const UPDATE_VARIABLE = 'HOPPER_UPDATE_STATEFUL_IDS';

/**
 * The stateful resource types and the properties of each that require replacement when they change
 * (CloudFormation's "Update requires: Replacement"). A table's AttributeDefinitions only define key
 * attributes (of the table or an index), so they are held as well: adding one global secondary index
 * (and its key attributes) is an update without interruption, but it is made on purpose.
 */
const REPLACED_BY: Readonly<Record<string, readonly string[]>> = {
  'AWS::SQS::Queue': ['QueueName', 'FifoQueue'],
  'AWS::DynamoDB::Table': ['TableName', 'KeySchema', 'AttributeDefinitions', 'LocalSecondaryIndexes', 'ImportSourceSpecification'],
};

/** What the snapshot holds of one stateful resource (`null`: not set). */
interface StatefulEntry {
  readonly type: string;
  /** Construct path, for the reader: the logical id is derived from it. */
  readonly path: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly deletionPolicy: unknown;
  readonly updateReplacePolicy: unknown;
}

type StatefulResources = Readonly<Record<string, StatefulEntry>>;

const GUIDANCE = [
  'A stateful resource of Hopper changed its logical id or a property that makes CloudFormation replace it.',
  'Deploying this would delete that queue (its jobs) or table (scheduled jobs, the dead set, batches, locks),',
  'or orphan a retained table and start the app from an empty one.',
  'Never rename a stateful construct id (Queue-<name>, Retries, RetriesDlq, StateTable, LimitsTable), nor move',
  'it under another parent construct: construct ids are API.',
  'If one truly must change, keep the old logical id (on the L1: `cfnQueue.overrideLogicalId("<old id>")`), or',
  'migrate in steps: create the new resource beside the old, drain the old queue (or export and import the table),',
  'and remove the old one in a later release, with an entry in docs/decisions.md.',
  `Update the snapshot only on purpose (a new stateful resource, or a deliberate migration): ${UPDATE_VARIABLE}=1`,
  'npx vitest run test/infra/stateful-ids.test.ts, and say why in the commit message.',
].join('\n');

/** The stateful resources of `stack`'s template, by logical id. */
function statefulResources(stack: Stack): StatefulResources {
  const paths = new Map<string, string>();
  for (const construct of stack.node.findAll()) {
    if (CfnResource.isCfnResource(construct)) paths.set(String(stack.resolve(construct.logicalId)), construct.node.path);
  }
  const resources: Record<string, StatefulEntry> = {};
  const template: unknown = Template.fromStack(stack).toJSON();
  const declared = isRecord(template) && isRecord(template.Resources) ? template.Resources : {};
  for (const [logicalId, resource] of Object.entries(declared)) {
    if (!isRecord(resource)) continue;
    const type = String(resource.Type);
    const held = REPLACED_BY[type];
    if (held === undefined) continue;
    const properties = isRecord(resource.Properties) ? resource.Properties : {};
    resources[logicalId] = {
      type,
      path: paths.get(logicalId) ?? '(no construct)',
      properties: Object.fromEntries(held.map((name) => [name, properties[name] ?? null])),
      deletionPolicy: resource.DeletionPolicy ?? null,
      updateReplacePolicy: resource.UpdateReplacePolicy ?? null,
    };
  }
  return resources;
}

/** Differences between the snapshot and the template, one line each (empty: none). */
function statefulChanges(expected: StatefulResources, actual: StatefulResources): string[] {
  const changes: string[] = [];
  for (const [logicalId, before] of Object.entries(expected)) {
    const after = actual[logicalId];
    if (after === undefined) {
      changes.push(`removed: ${logicalId} (${before.type} at ${before.path}); a resource with a new logical id would replace it`);
      continue;
    }
    for (const field of ['type', 'properties', 'deletionPolicy', 'updateReplacePolicy'] as const) {
      if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
        changes.push(`changed: ${logicalId} (${before.path}) ${field}: ${JSON.stringify(before[field])} -> ${JSON.stringify(after[field])}`);
      }
    }
  }
  for (const [logicalId, after] of Object.entries(actual)) {
    if (!(logicalId in expected)) changes.push(`new: ${logicalId} (${after.type} at ${after.path}); if it replaces a removed one, keep the old id instead`);
  }
  return changes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStatefulEntry(value: unknown): value is StatefulEntry {
  return isRecord(value) && typeof value.type === 'string' && typeof value.path === 'string' && isRecord(value.properties)
    && 'deletionPolicy' in value && 'updateReplacePolicy' in value;
}

function readSnapshot(): Readonly<Record<string, StatefulResources>> {
  const parsed: unknown = JSON.parse(readFileSync(SNAPSHOT_FILE, 'utf8'));
  if (!isRecord(parsed)) throw new Error(`${SNAPSHOT_FILE.pathname} is not a JSON object`);
  const snapshot: Record<string, StatefulResources> = {};
  for (const [stackName, resources] of Object.entries(parsed)) {
    if (!isRecord(resources)) throw new Error(`${SNAPSHOT_FILE.pathname}: ${stackName} is not an object`);
    const entries: Record<string, StatefulEntry> = {};
    for (const [logicalId, entry] of Object.entries(resources)) {
      if (!isStatefulEntry(entry)) throw new Error(`${SNAPSHOT_FILE.pathname}: ${stackName}.${logicalId} is not a stateful entry`);
      entries[logicalId] = entry;
    }
    snapshot[stackName] = entries;
  }
  return snapshot;
}

const STACKS = { HopperDemo: demoStack, HopperFixture: fixtureStack } as const;

describe('stateful resources keep their logical ids and replacement-causing properties', () => {
  if (process.env[UPDATE_VARIABLE] === '1') {
    const snapshot = Object.fromEntries(Object.entries(STACKS).map(([name, make]) => [name, statefulResources(make())]));
    writeFileSync(SNAPSHOT_FILE, `${JSON.stringify(snapshot, null, 2)}\n`);
  }
  const snapshot = readSnapshot();

  it.each(Object.entries(STACKS))('%s matches test/infra/stateful-ids.snapshot.json', (name, make) => {
    const expected = snapshot[name] ?? {};
    const actual = statefulResources(make());

    expect(statefulChanges(expected, actual), GUIDANCE).toEqual([]);
    expect(actual).toEqual(expected);
  });

  it('holds every queue and table of both stacks', () => {
    const counts = Object.values(snapshot).map((resources) => Object.values(resources).map((entry) => entry.type).sort());

    expect(counts).toEqual([
      ['AWS::DynamoDB::Table', 'AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::SQS::Queue', 'AWS::SQS::Queue', 'AWS::SQS::Queue'],
      ['AWS::DynamoDB::Table', 'AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::SQS::Queue', 'AWS::SQS::Queue', 'AWS::SQS::Queue', 'AWS::SQS::Queue'],
    ]);
  });

  it('reports a renamed queue as removed plus new, and a changed key schema as changed', () => {
    const expected = snapshot.HopperDemo ?? {};
    const [queueId, queue] = Object.entries(expected).find(([, entry]) => entry.path === 'HopperDemo/Jobs/Queue-default/Resource') ?? [];
    const [tableId, table] = Object.entries(expected).find(([, entry]) => entry.path === 'HopperDemo/Jobs/StateTable/Resource') ?? [];
    if (queueId === undefined || queue === undefined || tableId === undefined || table === undefined) throw new Error('the demo snapshot lacks Queue-default or StateTable');
    const actual: Record<string, StatefulEntry> = { ...expected };
    delete actual[queueId];
    actual.JobsQueueDefaultRenamed = { ...queue, path: 'HopperDemo/Jobs/Queue-Default/Resource' };
    actual[tableId] = { ...table, properties: { ...table.properties, KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] } };

    expect(statefulChanges(expected, actual)).toEqual([
      `removed: ${queueId} (AWS::SQS::Queue at HopperDemo/Jobs/Queue-default/Resource); a resource with a new logical id would replace it`,
      `changed: ${tableId} (HopperDemo/Jobs/StateTable/Resource) properties: ${JSON.stringify(table.properties)} -> ${JSON.stringify({ ...table.properties, KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] })}`,
      'new: JobsQueueDefaultRenamed (AWS::SQS::Queue at HopperDemo/Jobs/Queue-Default/Resource); if it replaces a removed one, keep the old id instead',
    ]);
  });
});
