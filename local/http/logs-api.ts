/**
 * CloudWatch Logs' JSON protocol (`X-Amz-Target: Logs_20140328.<operation>`), for the two reads
 * `hopper tail` makes: `DescribeLogGroups` and `FilterLogEvents`, answered from what the local
 * functions printed (../log-store.ts). Served by the local Lambda API's server; the runtime points
 * `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` at it. A filter pattern is refused: CloudWatch's pattern syntax
 * is not emulated, and matching it differently would show other events than AWS shows.
 */
import { isRecord } from '../../lib/job/model.js';
import type { LogStore } from '../log-store.js';

/** The target prefix of CloudWatch Logs' operations. */
export const LOGS_TARGET_PREFIX = 'Logs_20140328.';

/** Most events `FilterLogEvents` returns in a page (AWS's limit). */
const MAX_EVENTS = 10_000;

/** An answer of the Logs API: a status and a JSON body. */
export interface LogsAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** CloudWatch Logs' error shape. */
function fail(status: number, type: string, message: string): LogsAnswer {
  return { status, body: { __type: type, message } };
}

/** Answers `operation` (the part of the target after its prefix) with `input` (the JSON body). */
export function answerLogs(store: LogStore, operation: string, input: unknown): LogsAnswer {
  const request = isRecord(input) ? input : {};
  if (operation === 'DescribeLogGroups') {
    const prefix = typeof request.logGroupNamePrefix === 'string' ? request.logGroupNamePrefix : '';
    return { status: 200, body: { logGroups: store.describe(prefix).map((group) => ({ ...group, arn: `arn:aws:logs:us-east-1:000000000000:log-group:${group.logGroupName}:*`, storedBytes: 0 })) } };
  }
  if (operation === 'FilterLogEvents') {
    const group = typeof request.logGroupName === 'string' ? request.logGroupName : typeof request.logGroupIdentifier === 'string' ? request.logGroupIdentifier : undefined;
    if (group === undefined || group === '') return fail(400, 'InvalidParameterException', 'logGroupName or logGroupIdentifier is required');
    if (!store.has(group)) return fail(400, 'ResourceNotFoundException', `The specified log group does not exist: ${group}`);
    if (typeof request.filterPattern === 'string' && request.filterPattern.trim() !== '') {
      return fail(400, 'InvalidParameterException', 'filterPattern is not emulated by the Hopper local runtime: filter the events yourself');
    }
    const limit = typeof request.limit === 'number' && Number.isInteger(request.limit) && request.limit >= 1 && request.limit <= MAX_EVENTS ? request.limit : MAX_EVENTS;
    const after = typeof request.nextToken === 'string' ? request.nextToken : undefined;
    const streams = Array.isArray(request.logStreamNames) ? request.logStreamNames.filter((stream): stream is string => typeof stream === 'string') : undefined;
    const { events, more } = store.filter(group, {
      limit,
      ...(typeof request.startTime === 'number' ? { startTime: request.startTime } : {}),
      ...(typeof request.endTime === 'number' ? { endTime: request.endTime } : {}),
      ...(after === undefined ? {} : { after }),
      ...(streams === undefined ? {} : { streams }),
    });
    const last = events.at(-1);
    return { status: 200, body: { events, searchedLogStreams: [], ...(more && last !== undefined ? { nextToken: last.eventId } : {}) } };
  }
  return fail(400, 'UnknownOperationException', `${LOGS_TARGET_PREFIX}${operation} is not emulated by the Hopper local runtime (only DescribeLogGroups and FilterLogEvents)`);
}
