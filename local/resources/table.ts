/**
 * `AWS::DynamoDB::Table` and `AWS::DynamoDB::GlobalTable` → a DynamoDB Local table with the same
 * keys, indexes, billing mode, stream and TTL. (PITR, encryption, table class, replicas and
 * deletion protection have no local meaning and are ignored.)
 */
import type { AttributeDefinition, CreateTableCommandInput, GlobalSecondaryIndex, KeySchemaElement, LocalSecondaryIndex, Projection, ProvisionedThroughput } from '@aws-sdk/client-dynamodb';
import type { Properties } from '../template/properties.js';
import { localArn, physicalName } from '../identity.js';

/** A table to create. */
export interface TableSpec {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly create: CreateTableCommandInput;
  /** Attribute DynamoDB's TTL deletes items by, when TTL is enabled. */
  readonly ttlAttribute: string | undefined;
}

const STREAM_VIEW_TYPES = ['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES'] as const;
const ATTRIBUTE_TYPES = ['S', 'N', 'B'] as const;
const KEY_TYPES = ['HASH', 'RANGE'] as const;
const PROJECTION_TYPES = ['ALL', 'KEYS_ONLY', 'INCLUDE'] as const;

/** Parses a table's properties. */
export function parseTable(props: Properties, stackName: string): TableSpec {
  const name = props.optionalString('TableName') ?? physicalName(stackName, props.logicalId, 255);
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(name)) {
    props.fail(`${props.pathOf('TableName')} must be 3 to 255 letters, digits, _, - or ., but ${JSON.stringify(name)} was provided`);
  }
  const attributeDefinitions: AttributeDefinition[] = props.objects('AttributeDefinitions').map((definition) => ({
    AttributeName: definition.string('AttributeName'),
    AttributeType: definition.optionalEnum('AttributeType', ATTRIBUTE_TYPES) ?? definition.fail(`${definition.pathOf('AttributeType')} is required`),
  }));
  const keySchema = parseKeySchema(props, 'KeySchema');
  if (keySchema.length === 0) props.fail(`${props.pathOf('KeySchema')} is required`);
  const defined = new Set(attributeDefinitions.map((definition) => definition.AttributeName));
  const billingMode = props.optionalEnum('BillingMode', ['PAY_PER_REQUEST', 'PROVISIONED']) ?? 'PROVISIONED';
  const throughput = parseThroughput(props, billingMode);
  const gsis: GlobalSecondaryIndex[] = props.objects('GlobalSecondaryIndexes').map((index) => ({
    IndexName: index.string('IndexName'),
    KeySchema: parseKeySchema(index, 'KeySchema'),
    Projection: parseProjection(index),
    ...(billingMode === 'PROVISIONED' ? { ProvisionedThroughput: parseThroughput(index, billingMode) } : {}),
  }));
  const lsis: LocalSecondaryIndex[] = props.objects('LocalSecondaryIndexes').map((index) => ({
    IndexName: index.string('IndexName'),
    KeySchema: parseKeySchema(index, 'KeySchema'),
    Projection: parseProjection(index),
  }));
  for (const key of [...keySchema, ...gsis.flatMap((index) => index.KeySchema ?? []), ...lsis.flatMap((index) => index.KeySchema ?? [])]) {
    if (key.AttributeName !== undefined && !defined.has(key.AttributeName)) {
      props.fail(`key attribute ${key.AttributeName} is used in a key schema but missing from ${props.pathOf('AttributeDefinitions')}`);
    }
  }
  const stream = props.object('StreamSpecification');
  const viewType = stream?.optionalEnum('StreamViewType', STREAM_VIEW_TYPES);
  if (stream !== undefined && viewType === undefined) props.fail(`${stream.pathOf('StreamViewType')} is required`);
  const ttl = props.object('TimeToLiveSpecification');
  const ttlEnabled = ttl?.boolean('Enabled') ?? false;
  const ttlAttribute = ttlEnabled ? ttl?.string('AttributeName') : undefined;
  return {
    logicalId: props.logicalId,
    name,
    arn: localArn('dynamodb', `table/${name}`),
    ttlAttribute,
    create: {
      TableName: name,
      AttributeDefinitions: attributeDefinitions,
      KeySchema: keySchema,
      BillingMode: billingMode,
      ...(throughput === undefined ? {} : { ProvisionedThroughput: throughput }),
      ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis } : {}),
      ...(lsis.length > 0 ? { LocalSecondaryIndexes: lsis } : {}),
      ...(viewType === undefined ? {} : { StreamSpecification: { StreamEnabled: true, StreamViewType: viewType } }),
    },
  };
}

function parseKeySchema(props: Properties, name: string): KeySchemaElement[] {
  const keys = props.objects(name).map((key) => ({
    AttributeName: key.string('AttributeName'),
    KeyType: key.optionalEnum('KeyType', KEY_TYPES) ?? key.fail(`${key.pathOf('KeyType')} is required`),
  }));
  if (keys.length > 2 || keys[0]?.KeyType === 'RANGE') {
    props.fail(`${props.pathOf(name)} must be a HASH key optionally followed by a RANGE key, but ${JSON.stringify(keys)} was provided`);
  }
  return keys;
}

function parseProjection(index: Properties): Projection {
  const projection = index.object('Projection');
  if (projection === undefined) return index.fail(`${index.pathOf('Projection')} is required`);
  const type = projection.optionalEnum('ProjectionType', PROJECTION_TYPES) ?? 'KEYS_ONLY';
  const nonKey = projection.strings('NonKeyAttributes');
  return { ProjectionType: type, ...(nonKey.length > 0 ? { NonKeyAttributes: nonKey } : {}) };
}

/** DynamoDB Local requires throughput for provisioned tables; its numbers do not limit anything. */
function parseThroughput(props: Properties, billingMode: string): ProvisionedThroughput | undefined {
  if (billingMode !== 'PROVISIONED') return undefined;
  const throughput = props.object('ProvisionedThroughput');
  return {
    ReadCapacityUnits: throughput?.integer('ReadCapacityUnits', { min: 1 }) ?? 5,
    WriteCapacityUnits: throughput?.integer('WriteCapacityUnits', { min: 1 }) ?? 5,
  };
}
