/**
 * SQS's query protocol (what AWS CLI v2 before 2.13 and boto3 before 1.34 speak) translated to and
 * from the JSON protocol fauxqs speaks, in front of the local SQS endpoint.
 */
import { describe, expect, it } from 'vitest';
import { isSqsAction, jsonToQueryXml, queryErrorXml, queryToJson } from '../../local/sqs/query-protocol.js';
import { visibilityRefusal } from '../../local/sqs/visibility-limit.js';

const URL_ = 'http://127.0.0.1:4000/000000000000/jobs';
const form = (fields: Record<string, string>) => new URLSearchParams({ Version: '2012-11-05', ...fields });
/** An answer with its random RequestId replaced. */
const fixed = (xml: string) => xml.replace(/<RequestId>[^<]*<\/RequestId>/, '<RequestId>r</RequestId>');

describe('query requests to JSON', () => {
  it('reads SendMessage with its message attributes and delay (what `aws sqs send-message` sends)', () => {
    expect(queryToJson('SendMessage', form({
      Action: 'SendMessage', QueueUrl: URL_, MessageBody: '{"jobtype":"A"}', DelaySeconds: '5',
      'MessageAttribute.1.Name': 'tenant', 'MessageAttribute.1.Value.StringValue': 'acme', 'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.2.Name': 'blob', 'MessageAttribute.2.Value.BinaryValue': 'AAE=', 'MessageAttribute.2.Value.DataType': 'Binary',
    }))).toEqual({
      QueueUrl: URL_, MessageBody: '{"jobtype":"A"}', DelaySeconds: 5,
      MessageAttributes: { tenant: { StringValue: 'acme', DataType: 'String' }, blob: { BinaryValue: 'AAE=', DataType: 'Binary' } },
    });
  });

  it('reads batch entries in index order, each with its own fields', () => {
    expect(queryToJson('SendMessageBatch', form({
      Action: 'SendMessageBatch', QueueUrl: URL_,
      'SendMessageBatchRequestEntry.2.Id': 'b', 'SendMessageBatchRequestEntry.2.MessageBody': 'two',
      'SendMessageBatchRequestEntry.1.Id': 'a', 'SendMessageBatchRequestEntry.1.MessageBody': 'one', 'SendMessageBatchRequestEntry.1.DelaySeconds': '3',
    }))).toEqual({ QueueUrl: URL_, Entries: [{ Id: 'a', MessageBody: 'one', DelaySeconds: 3 }, { Id: 'b', MessageBody: 'two' }] });
    expect(queryToJson('ChangeMessageVisibilityBatch', form({
      Action: 'ChangeMessageVisibilityBatch', QueueUrl: URL_,
      'ChangeMessageVisibilityBatchRequestEntry.1.Id': 'x', 'ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle': 'h', 'ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout': '60',
    }))).toEqual({ QueueUrl: URL_, Entries: [{ Id: 'x', ReceiptHandle: 'h', VisibilityTimeout: 60 }] });
  });

  it('reads lists and maps: ReceiveMessage attribute names, CreateQueue attributes and tags', () => {
    expect(queryToJson('ReceiveMessage', form({ Action: 'ReceiveMessage', QueueUrl: URL_, 'AttributeName.2': 'SentTimestamp', 'AttributeName.1': 'All', 'MessageAttributeName.1': 'All', MaxNumberOfMessages: '10', WaitTimeSeconds: '20' })))
      .toEqual({ QueueUrl: URL_, AttributeNames: ['All', 'SentTimestamp'], MessageAttributeNames: ['All'], MaxNumberOfMessages: 10, WaitTimeSeconds: 20 });
    expect(queryToJson('CreateQueue', form({ Action: 'CreateQueue', QueueName: 'jobs', 'Attribute.1.Name': 'VisibilityTimeout', 'Attribute.1.Value': '60', 'Tag.1.Key': 'team', 'Tag.1.Value': 'ops' })))
      .toEqual({ QueueName: 'jobs', Attributes: { VisibilityTimeout: '60' }, tags: { team: 'ops' } });
  });

  it('refuses a parameter it would otherwise drop, naming it, and knows only SQS actions', () => {
    expect(() => queryToJson('SendMessage', form({ Action: 'SendMessage', QueueUrl: URL_, MessageBody: 'x', Colour: 'blue' }))).toThrow('parameter Colour is not a parameter of this action');
    expect(() => queryToJson('SendMessageBatch', form({ Action: 'SendMessageBatch', QueueUrl: URL_, 'SendMessageBatchRequestEntry.1.Id': 'a', 'SendMessageBatchRequestEntry.1.Colour': 'blue' }))).toThrow('parameter SendMessageBatchRequestEntry.1.Colour is not a parameter of this action');
    expect([isSqsAction('SendMessage'), isSqsAction('Publish'), isSqsAction('GetCallerIdentity')]).toEqual([true, false, false]);
  });
});

describe('JSON answers to XML', () => {
  it('writes ReceiveMessage as SQS does: messages with their attributes, text escaped', () => {
    const xml = jsonToQueryXml('ReceiveMessage', {
      Messages: [{
        MessageId: 'm1', ReceiptHandle: 'h1', MD5OfBody: 'abc', Body: '{"a":"<&>"}',
        Attributes: { ApproximateReceiveCount: '2' },
        MD5OfMessageAttributes: 'def',
        MessageAttributes: { tenant: { StringValue: 'acme', DataType: 'String' } },
      }],
    });

    expect(fixed(xml)).toBe('<?xml version="1.0"?><ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ReceiveMessageResult>'
      + '<Message><MessageId>m1</MessageId><ReceiptHandle>h1</ReceiptHandle><MD5OfBody>abc</MD5OfBody><Body>{&quot;a&quot;:&quot;&lt;&amp;&gt;&quot;}</Body>'
      + '<Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value></Attribute><MD5OfMessageAttributes>def</MD5OfMessageAttributes>'
      + '<MessageAttribute><Name>tenant</Name><Value><StringValue>acme</StringValue><DataType>String</DataType></Value></MessageAttribute></Message>'
      + '</ReceiveMessageResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ReceiveMessageResponse>');
  });

  it('writes batch results, queue lists, actions without a result, and errors', () => {
    expect(fixed(jsonToQueryXml('DeleteMessageBatch', { Successful: [{ Id: 'a' }], Failed: [{ Id: 'b', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'bad' }] }))).toBe(
      '<?xml version="1.0"?><DeleteMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><DeleteMessageBatchResult>'
      + '<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>'
      + '<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code><Message>bad</Message></BatchResultErrorEntry>'
      + '</DeleteMessageBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteMessageBatchResponse>');
    expect(fixed(jsonToQueryXml('ListQueues', { QueueUrls: [URL_, `${URL_}-dlq`] }))).toContain(`<ListQueuesResult><QueueUrl>${URL_}</QueueUrl><QueueUrl>${URL_}-dlq</QueueUrl></ListQueuesResult>`);
    expect(fixed(jsonToQueryXml('DeleteMessage', {}))).toBe('<?xml version="1.0"?><DeleteMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteMessageResponse>');
    expect(fixed(queryErrorXml('InvalidParameterValue', 'Value 9 <bad>'))).toBe('<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>Value 9 &lt;bad&gt;</Message><Detail/></Error><RequestId>r</RequestId></ErrorResponse>');
  });
});

describe('the 12-hour visibility limit', () => {
  const first = Date.UTC(2026, 10, 22, 0, 0, 0);
  const hour = 3_600_000;

  it.each([
    { after: 0, seconds: 43_200, refused: false },
    { after: 1, seconds: 43_200, refused: true },
    { after: 11 * hour, seconds: 3_600, refused: false },
    { after: 11 * hour, seconds: 3_601, refused: true },
    { after: 12 * hour, seconds: 0, refused: false },
    { after: 12 * hour, seconds: 1, refused: true },
  ])('$seconds s asked $after ms after the first receive is refused: $refused', ({ after, seconds, refused }) => {
    const refusal = visibilityRefusal(first, first + after, seconds);
    expect(refusal).toBe(refused ? `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]` : undefined);
  });
});
