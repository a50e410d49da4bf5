/** `AWS::SQS::Queue` → a fauxqs queue with the same attributes (redrive resolved to local ARNs). */
import type { Properties } from '../template/properties.js';
import { localArn, physicalName } from '../identity.js';

/** SQS's visibility timeout for a queue that sets none. */
export const SQS_DEFAULT_VISIBILITY_SECONDS = 30;

/** A queue to create. */
export interface QueueSpec {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Attributes for CreateQueue (all strings, as the SQS API wants them). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Parses a queue's properties. */
export function parseQueue(props: Properties, stackName: string): QueueSpec {
  const fifo = props.boolean('FifoQueue') ?? false;
  const name = props.optionalString('QueueName') ?? physicalName(stackName, props.logicalId, 80, fifo ? '.fifo' : '');
  if (!/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(name) || name.length > 80) {
    props.fail(`${props.pathOf('QueueName')} must be 1 to 80 letters, digits, - or _ (FIFO names end in .fifo), but ${JSON.stringify(name)} was provided`);
  }
  if (fifo !== name.endsWith('.fifo')) props.fail(`${props.pathOf('QueueName')} must end in .fifo exactly when FifoQueue is true, but ${JSON.stringify(name)} was provided`);
  const attributes: Record<string, string> = {};
  const integers = [
    ['DelaySeconds', 0, 900],
    ['MaximumMessageSize', 1024, 1_048_576],
    ['MessageRetentionPeriod', 60, 1_209_600],
    ['ReceiveMessageWaitTimeSeconds', 0, 20],
    ['VisibilityTimeout', 0, 43_200],
  ] as const;
  for (const [attribute, min, max] of integers) {
    const value = props.integer(attribute, { min, max });
    if (value !== undefined) attributes[attribute] = String(value);
  }
  if (fifo) {
    attributes.FifoQueue = 'true';
    const dedup = props.boolean('ContentBasedDeduplication');
    if (dedup !== undefined) attributes.ContentBasedDeduplication = String(dedup);
    const scope = props.optionalEnum('DeduplicationScope', ['messageGroup', 'queue']);
    if (scope !== undefined) attributes.DeduplicationScope = scope;
    const limit = props.optionalEnum('FifoThroughputLimit', ['perQueue', 'perMessageGroupId']);
    if (limit !== undefined) attributes.FifoThroughputLimit = limit;
  }
  const redrive = props.jsonObject('RedrivePolicy');
  if (redrive !== undefined) {
    const target = redrive.string('deadLetterTargetArn');
    if (!target.startsWith('arn:aws:sqs:')) props.fail(`${redrive.pathOf('deadLetterTargetArn')} must be an SQS queue ARN, but ${JSON.stringify(target)} was provided`);
    const maxReceiveCount = redrive.integer('maxReceiveCount', { min: 1, max: 1000 });
    if (maxReceiveCount === undefined) props.fail(`${redrive.pathOf('maxReceiveCount')} is required`);
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount });
  }
  const allow = props.jsonObject('RedriveAllowPolicy');
  if (allow !== undefined) {
    const permission = allow.optionalEnum('redrivePermission', ['allowAll', 'denyAll', 'byQueue']) ?? 'allowAll';
    const sources = allow.strings('sourceQueueArns');
    attributes.RedriveAllowPolicy = JSON.stringify(sources.length > 0 ? { redrivePermission: permission, sourceQueueArns: sources } : { redrivePermission: permission });
  }
  return { logicalId: props.logicalId, name, arn: localArn('sqs', name), attributes };
}
