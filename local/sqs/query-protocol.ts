/**
 * SQS's query protocol (form-encoded requests, XML answers), translated to and from its JSON
 * protocol, which is all fauxqs speaks. AWS CLI v2 before 2.13 and boto3 before 1.34 (Debian 12's
 * `/usr/bin/aws` 2.9 and python3-boto3 1.26, for two) speak only the query protocol; real SQS
 * accepts both, and so does the local endpoint through this translation. Pure: no I/O.
 *
 * Every SQS action is translated: queue management (CreateQueue, GetQueueUrl, ListQueues,
 * Get/SetQueueAttributes, PurgeQueue, DeleteQueue) and messages (Send, Receive, Delete,
 * ChangeMessageVisibility, each with its batch form). A parameter the translation does not know is
 * refused with an error naming it, never dropped.
 */
import { randomUUID } from 'node:crypto';
import { isRecord } from '../../lib/job/model.js';

type Json = Record<string, unknown>;

/** The XML namespace of SQS's query answers. */
export const SQS_QUERY_NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/';

/**
 * How one action's flat parameters nest: lists (`AttributeName.1`), maps (`Attribute.1.Name` and
 * `Attribute.1.Value`) and numbers; entries of a batch are themselves shapes.
 */
interface Shape {
  readonly scalars?: readonly string[];
  readonly numbers?: readonly string[];
  /** Query member → JSON member, a list of strings. */
  readonly lists?: Readonly<Record<string, string>>;
  /** Query member → JSON member and the names of its key and value. */
  readonly maps?: Readonly<Record<string, { readonly member: string; readonly key: string; readonly value: string }>>;
  /** Query member → JSON member, a list of entries of `shape`. */
  readonly entries?: Readonly<Record<string, { readonly member: string; readonly shape: Shape }>>;
}

const MESSAGE_ATTRIBUTES = { member: 'MessageAttributes', key: 'Name', value: 'Value' } as const;
const SYSTEM_ATTRIBUTES = { member: 'MessageSystemAttributes', key: 'Name', value: 'Value' } as const;
const QUEUE_ATTRIBUTES = { member: 'Attributes', key: 'Name', value: 'Value' } as const;
const SEND_SHAPE: Shape = {
  scalars: ['QueueUrl', 'MessageBody', 'MessageGroupId', 'MessageDeduplicationId', 'Id'],
  numbers: ['DelaySeconds'],
  maps: { MessageAttribute: MESSAGE_ATTRIBUTES, MessageSystemAttribute: SYSTEM_ATTRIBUTES },
};

/** Every SQS action and the shape of its parameters. */
const SHAPES: Readonly<Record<string, Shape>> = {
  CreateQueue: { scalars: ['QueueName'], maps: { Attribute: QUEUE_ATTRIBUTES, Tag: { member: 'tags', key: 'Key', value: 'Value' } } },
  GetQueueUrl: { scalars: ['QueueName', 'QueueOwnerAWSAccountId'] },
  ListQueues: { scalars: ['QueueNamePrefix', 'NextToken'], numbers: ['MaxResults'] },
  GetQueueAttributes: { scalars: ['QueueUrl'], lists: { AttributeName: 'AttributeNames' } },
  SetQueueAttributes: { scalars: ['QueueUrl'], maps: { Attribute: QUEUE_ATTRIBUTES } },
  PurgeQueue: { scalars: ['QueueUrl'] },
  DeleteQueue: { scalars: ['QueueUrl'] },
  SendMessage: SEND_SHAPE,
  SendMessageBatch: { scalars: ['QueueUrl'], entries: { SendMessageBatchRequestEntry: { member: 'Entries', shape: SEND_SHAPE } } },
  ReceiveMessage: {
    scalars: ['QueueUrl', 'ReceiveRequestAttemptId'],
    numbers: ['MaxNumberOfMessages', 'VisibilityTimeout', 'WaitTimeSeconds'],
    lists: { AttributeName: 'AttributeNames', MessageAttributeName: 'MessageAttributeNames', MessageSystemAttributeName: 'MessageSystemAttributeNames' },
  },
  DeleteMessage: { scalars: ['QueueUrl', 'ReceiptHandle'] },
  DeleteMessageBatch: { scalars: ['QueueUrl'], entries: { DeleteMessageBatchRequestEntry: { member: 'Entries', shape: { scalars: ['Id', 'ReceiptHandle'] } } } },
  ChangeMessageVisibility: { scalars: ['QueueUrl', 'ReceiptHandle'], numbers: ['VisibilityTimeout'] },
  ChangeMessageVisibilityBatch: {
    scalars: ['QueueUrl'],
    entries: { ChangeMessageVisibilityBatchRequestEntry: { member: 'Entries', shape: { scalars: ['Id', 'ReceiptHandle'], numbers: ['VisibilityTimeout'] } } },
  },
};

/** Whether `action` is an SQS action this module translates. */
export function isSqsAction(action: string): boolean {
  return Object.hasOwn(SHAPES, action);
}

import { QueryTranslationError } from '../../lib/errors/local.js';

export { QueryTranslationError };

/**
 * The JSON-protocol input of a query-protocol request.
 *
 * @throws QueryTranslationError naming a parameter the action does not take.
 * @example
 * queryToJson('SendMessage', new URLSearchParams('QueueUrl=u&MessageBody=hi&DelaySeconds=5'))
 * // { QueueUrl: 'u', MessageBody: 'hi', DelaySeconds: 5 }
 */
export function queryToJson(action: string, params: URLSearchParams): Json {
  const shape = Object.hasOwn(SHAPES, action) ? SHAPES[action] : undefined;
  if (shape === undefined) throw new QueryTranslationError(`action ${JSON.stringify(action)} is not an SQS action`);
  const flat = new Map<string, string>();
  for (const [name, value] of params) if (name !== 'Action' && name !== 'Version') flat.set(name, value);
  return nest(shape, flat, '');
}

/** Builds the JSON of `shape` from the parameters under `prefix` (`` or `Entry.3.`). */
function nest(shape: Shape, flat: ReadonlyMap<string, string>, prefix: string): Json {
  const out: Json = {};
  const used = new Set<string>();
  const take = (name: string): string | undefined => {
    const value = flat.get(prefix + name);
    if (value !== undefined) used.add(prefix + name);
    return value;
  };
  for (const name of shape.scalars ?? []) {
    const value = take(name);
    if (value !== undefined) out[name] = value;
  }
  for (const name of shape.numbers ?? []) {
    const value = take(name);
    if (value !== undefined) out[name] = Number(value);
  }
  for (const [query, member] of Object.entries(shape.lists ?? {})) {
    const items = indexed(flat, `${prefix}${query}.`).filter(([rest]) => /^\d+$/.test(rest));
    if (items.length === 0) continue;
    out[member] = items.sort(([a], [b]) => Number(a) - Number(b)).map(([rest, value]) => {
      used.add(`${prefix}${query}.${rest}`);
      return value;
    });
  }
  for (const [query, map] of Object.entries(shape.maps ?? {})) {
    const groups = groupsOf(flat, `${prefix}${query}.`);
    if (groups.size === 0) continue;
    const entries: Json = {};
    for (const [index, fields] of [...groups].sort(([a], [b]) => a - b)) {
      const key = fields.get(map.key);
      if (key === undefined) throw new QueryTranslationError(`parameter ${prefix}${query}.${index}.${map.key} is missing`);
      const value = valueOf(fields, map.value, `${prefix}${query}.${index}.`);
      entries[key] = value;
      for (const field of fields.keys()) used.add(`${prefix}${query}.${index}.${field}`);
    }
    out[map.member] = entries;
  }
  for (const [query, entry] of Object.entries(shape.entries ?? {})) {
    const groups = groupsOf(flat, `${prefix}${query}.`);
    if (groups.size === 0) continue;
    out[entry.member] = [...groups.keys()].sort((a, b) => a - b).map((index) => nest(entry.shape, flat, `${prefix}${query}.${index}.`));
  }
  // Entries check their own parameters; everything else under this prefix must have been read.
  const nested = Object.keys(shape.entries ?? {}).map((query) => `${prefix}${query}.`);
  const unknown = [...flat.keys()].find((name) => name.startsWith(prefix) && !used.has(name) && !nested.some((inner) => name.startsWith(inner)));
  if (unknown !== undefined) throw new QueryTranslationError(`parameter ${unknown} is not a parameter of this action`);
  return out;
}

/** `[rest, value]` of every parameter starting with `prefix`. */
function indexed(flat: ReadonlyMap<string, string>, prefix: string): [string, string][] {
  return [...flat].filter(([name]) => name.startsWith(prefix)).map(([name, value]) => [name.slice(prefix.length), value]);
}

/** Parameters `<prefix><n>.<field>` grouped by n, each group field → value. */
function groupsOf(flat: ReadonlyMap<string, string>, prefix: string): Map<number, Map<string, string>> {
  const groups = new Map<number, Map<string, string>>();
  for (const [rest, value] of indexed(flat, prefix)) {
    const match = /^(\d+)\.(.+)$/.exec(rest);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    const index = Number(match[1]);
    const group = groups.get(index) ?? new Map<string, string>();
    group.set(match[2], value);
    groups.set(index, group);
  }
  return groups;
}

/**
 * The value of a map entry: a plain string (`Attribute.1.Value`), or a message attribute value
 * (`MessageAttribute.1.Value.StringValue`, `.BinaryValue`, `.DataType`).
 */
function valueOf(fields: ReadonlyMap<string, string>, name: string, path: string): unknown {
  const plain = fields.get(name);
  if (plain !== undefined) return plain;
  const value: Json = {};
  for (const [field, text] of fields) {
    if (!field.startsWith(`${name}.`)) continue;
    const part = field.slice(name.length + 1);
    if (part !== 'StringValue' && part !== 'BinaryValue' && part !== 'DataType') throw new QueryTranslationError(`parameter ${path}${field} is not translated`);
    value[part] = text;
  }
  return value;
}

/** The XML answer of `action` for its JSON-protocol output. */
export function jsonToQueryXml(action: string, output: Json): string {
  return `<?xml version="1.0"?><${action}Response xmlns="${SQS_QUERY_NAMESPACE}">${result(action, output)}`
    + `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

/** The `<…Result>` element of an answer (none for actions that return nothing). */
function result(action: string, output: Json): string {
  const wrap = (content: string) => `<${action}Result>${content}</${action}Result>`;
  switch (action) {
    case 'CreateQueue':
    case 'GetQueueUrl':
      return wrap(fields(output, ['QueueUrl']));
    case 'ListQueues':
      return wrap(list(output.QueueUrls).map((url) => element('QueueUrl', text(url))).join('') + fields(output, ['NextToken']));
    case 'GetQueueAttributes':
      return wrap(pairs(output.Attributes, 'Attribute'));
    case 'SendMessage':
      return wrap(fields(output, ['MessageId', 'MD5OfMessageBody', 'MD5OfMessageAttributes', 'MD5OfMessageSystemAttributes', 'SequenceNumber']));
    case 'SendMessageBatch':
      return wrap(batch(output, 'SendMessageBatchResultEntry', ['Id', 'MessageId', 'MD5OfMessageBody', 'MD5OfMessageAttributes', 'MD5OfMessageSystemAttributes', 'SequenceNumber']));
    case 'ReceiveMessage':
      return wrap(list(output.Messages).map((message) => element('Message', receivedMessage(message))).join(''));
    case 'DeleteMessageBatch':
      return wrap(batch(output, 'DeleteMessageBatchResultEntry', ['Id']));
    case 'ChangeMessageVisibilityBatch':
      return wrap(batch(output, 'ChangeMessageVisibilityBatchResultEntry', ['Id']));
    default:
      return '';
  }
}

function receivedMessage(message: unknown): string {
  if (!isRecord(message)) return '';
  const attributes = pairs(message.Attributes, 'Attribute');
  const messageAttributes = isRecord(message.MessageAttributes)
    ? Object.entries(message.MessageAttributes).map(([name, value]) => element('MessageAttribute', element('Name', text(name)) + element('Value', fields(value, ['StringValue', 'BinaryValue', 'DataType'])))).join('')
    : '';
  return fields(message, ['MessageId', 'ReceiptHandle', 'MD5OfBody', 'Body']) + attributes + fields(message, ['MD5OfMessageAttributes']) + messageAttributes;
}

function batch(output: Json, successTag: string, successFields: readonly string[]): string {
  return list(output.Successful).map((entry) => element(successTag, fields(entry, successFields))).join('')
    + list(output.Failed).map((entry) => element('BatchResultErrorEntry', fields(entry, ['Id', 'SenderFault', 'Code', 'Message']))).join('');
}

/** A name → value object as `<tag><Name>…</Name><Value>…</Value></tag>` elements. */
function pairs(source: unknown, tag: string): string {
  if (!isRecord(source)) return '';
  return Object.entries(source).map(([name, value]) => element(tag, element('Name', text(name)) + element('Value', text(value)))).join('');
}

function fields(source: unknown, names: readonly string[]): string {
  if (!isRecord(source)) return '';
  return names.filter((name) => source[name] !== undefined && source[name] !== null).map((name) => element(name, text(source[name]))).join('');
}

function element(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A JSON scalar as escaped XML text. */
function text(value: unknown): string {
  const raw = typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
  return raw.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\r/g, '&#13;');
}

/** SQS's XML error answer. */
export function queryErrorXml(code: string, message: string, fault: 'Sender' | 'Receiver' = 'Sender'): string {
  return `<?xml version="1.0"?><ErrorResponse xmlns="${SQS_QUERY_NAMESPACE}"><Error><Type>${fault}</Type><Code>${text(code)}</Code>`
    + `<Message>${text(message)}</Message><Detail/></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}
