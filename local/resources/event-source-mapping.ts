/**
 * `AWS::Lambda::EventSourceMapping` → an SQS or DynamoDB stream poller's settings, with Lambda's
 * defaults and limits.
 */
import { randomUUID } from 'node:crypto';
import type { Properties } from '../template/properties.js';

/** Lambda's defaults and limits for event source mappings. */
export const MAPPING_DEFAULTS = {
  sqsBatchSize: 10,
  streamBatchSize: 100,
  /** Lambda polls an SQS queue with up to 1,000 concurrent invocations; locally a small cap keeps a laptop responsive. */
  sqsMaxConcurrency: 5,
} as const;

/** What kind of source a mapping polls. */
export const SOURCE_KINDS = { sqs: 'sqs', dynamodb: 'dynamodb' } as const;
export type SourceKind = (typeof SOURCE_KINDS)[keyof typeof SOURCE_KINDS];

/** A mapping to run. */
export interface MappingSpec {
  readonly logicalId: string;
  /** The mapping's UUID (what `Ref` gives, and the Lambda API's key). */
  readonly uuid: string;
  readonly kind: SourceKind;
  /** The function, as the template names it (name, ARN or qualified ARN). */
  readonly functionName: string;
  readonly eventSourceArn: string;
  readonly enabled: boolean;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency (SQS). */
  readonly maximumConcurrency: number | undefined;
  /** FilterCriteria patterns (JSON strings). */
  readonly filterPatterns: readonly string[];
  /** Stream settings. */
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP' | undefined;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1 = retry until the record expires. */
  readonly maximumRetryAttempts: number;
  /** -1 = records never expire. */
  readonly maximumRecordAgeSeconds: number;
  /** SQS queue ARN that receives a record of batches given up on. */
  readonly onFailureDestination: string | undefined;
}

/** The kind of source an ARN names, if the local runtime can poll it. */
export function sourceKind(arn: string): SourceKind | undefined {
  if (arn.startsWith('arn:aws:sqs:')) return SOURCE_KINDS.sqs;
  if (arn.startsWith('arn:aws:dynamodb:') && arn.includes('/stream/')) return SOURCE_KINDS.dynamodb;
  return undefined;
}

/**
 * Parses a mapping's properties. Returns undefined (with the reason) for sources the local runtime
 * does not poll (Kinesis, Kafka, MQ).
 */
export function parseMapping(props: Properties): MappingSpec | { readonly unsupported: string } {
  const functionName = props.string('FunctionName');
  const eventSourceArn = props.optionalString('EventSourceArn');
  if (eventSourceArn === undefined) return { unsupported: 'it has no EventSourceArn (self-managed Kafka is not supported locally)' };
  const kind = sourceKind(eventSourceArn);
  if (kind === undefined) return { unsupported: `its source ${eventSourceArn} is not an SQS queue or DynamoDB stream, which are all the local runtime polls` };
  const sqs = kind === SOURCE_KINDS.sqs;
  const batchSize = props.integer('BatchSize', { min: 1, max: 10_000 }) ?? (sqs ? MAPPING_DEFAULTS.sqsBatchSize : MAPPING_DEFAULTS.streamBatchSize);
  const window = props.integer('MaximumBatchingWindowInSeconds', { min: 0, max: 300 }) ?? 0;
  if (sqs && batchSize > 10 && window === 0) {
    props.fail(`${props.pathOf('BatchSize')} above 10 needs MaximumBatchingWindowInSeconds of at least 1 for an SQS source, but ${batchSize} was provided without one`);
  }
  const responseTypes = props.strings('FunctionResponseTypes');
  for (const type of responseTypes) {
    if (type !== 'ReportBatchItemFailures') props.fail(`${props.pathOf('FunctionResponseTypes')} may only contain ReportBatchItemFailures, but ${JSON.stringify(type)} was provided`);
  }
  const scaling = props.object('ScalingConfig');
  const maximumConcurrency = scaling?.integer('MaximumConcurrency', { min: 2, max: 1000 });
  const filterPatterns = (props.object('FilterCriteria')?.objects('Filters') ?? []).map((filter) => {
    const pattern = filter.optionalString('Pattern') ?? filter.fail(`${filter.pathOf('Pattern')} is required`);
    try {
      JSON.parse(pattern);
    } catch {
      filter.fail(`${filter.pathOf('Pattern')} must be a JSON event pattern, but ${JSON.stringify(pattern)} is not JSON`);
    }
    return pattern;
  });
  const startingPosition = props.optionalEnum('StartingPosition', ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']);
  if (!sqs && startingPosition === undefined) props.fail(`${props.pathOf('StartingPosition')} is required for a DynamoDB stream source`);
  const destination = props.object('DestinationConfig')?.object('OnFailure')?.optionalString('Destination');
  return {
    logicalId: props.logicalId,
    uuid: randomUUID(),
    kind,
    functionName,
    eventSourceArn,
    enabled: props.boolean('Enabled') ?? true,
    batchSize,
    maximumBatchingWindowSeconds: window,
    reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
    maximumConcurrency,
    filterPatterns,
    startingPosition,
    bisectBatchOnFunctionError: props.boolean('BisectBatchOnFunctionError') ?? false,
    maximumRetryAttempts: props.integer('MaximumRetryAttempts', { min: -1, max: 10_000 }) ?? -1,
    maximumRecordAgeSeconds: props.integer('MaximumRecordAgeInSeconds', { min: -1, max: 604_800 }) ?? -1,
    onFailureDestination: destination,
  };
}
