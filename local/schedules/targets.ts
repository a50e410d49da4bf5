/**
 * What a schedule does when it fires, per target kind: invoke a function asynchronously (Input
 * parsed as JSON when it is JSON), send the Input to a queue, or run the universal
 * `sqs:sendMessage` target (Input is the SendMessage request).
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { HopperError } from '../../lib/errors/base.js';
import type { AsyncInvoker } from '../host/async-invoke.js';
import type { FunctionPool } from '../host/function-pool.js';
import { SQS_UNIVERSAL_TARGET } from '../resources/plan.js';
import type { ScheduleSpec } from '../resources/schedule.js';
import type { FireTarget } from './scheduler.js';

/** What firing needs from the runtime. */
export interface TargetDeps {
  readonly findPool: (nameOrArn: string) => FunctionPool | undefined;
  readonly asyncInvoker: AsyncInvoker;
  readonly sqs: SQSClient;
  /** URL of a queue of the stack by ARN. */
  readonly queueUrl: (arn: string) => string | undefined;
}

function parsePayload(payload: string | undefined): unknown {
  if (payload === undefined) return {};
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

/** The scheduler's {@link FireTarget} for a runtime. */
export function scheduleTargets(deps: TargetDeps): FireTarget {
  return async (schedule: ScheduleSpec, payload: string | undefined): Promise<void> => {
    const pool = deps.findPool(schedule.targetArn);
    if (pool !== undefined) {
      deps.asyncInvoker.invoke(pool, parsePayload(payload));
      return;
    }
    if (schedule.targetArn === SQS_UNIVERSAL_TARGET) {
      const request = parsePayload(payload);
      const queueUrl: unknown = typeof request === 'object' && request !== null ? Reflect.get(request, 'QueueUrl') : undefined;
      const body: unknown = typeof request === 'object' && request !== null ? Reflect.get(request, 'MessageBody') : undefined;
      if (typeof queueUrl !== 'string' || typeof body !== 'string') throw new HopperError('the sqs:sendMessage target Input needs QueueUrl and MessageBody strings');
      await deps.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      return;
    }
    const queueUrl = deps.queueUrl(schedule.targetArn);
    if (queueUrl === undefined) throw new HopperError(`target ${schedule.targetArn} is not a function or queue of the stack`);
    const groupId = schedule.messageGroupId === undefined ? {} : { MessageGroupId: schedule.messageGroupId };
    await deps.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: payload ?? '', ...groupId }));
  };
}
