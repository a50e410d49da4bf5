/**
 * The flow item as stored (the attributes are listed in ./model.ts): read from an item or a stream
 * image, and the attributes a change of progress writes. Pure.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ItemRead } from '../aws/dynamo.js';
import { isRecord } from '../job/model.js';
import { FLOW_STATUSES, STEP_STATUSES, type FlowPlan, type FlowProgress, type FlowState, type FlowStatus, type StepState, type StepStatus } from './model.js';

/**
 * Reads a flow item (or a stream image of one). Undefined for an item that is not a flow, or whose
 * plan or steps do not parse, so a reader never fails on one odd item.
 */
export function readFlowItem(item: ItemRead): FlowState | undefined {
  const id = item.flow_id?.S;
  const plan = parseJson(item.plan?.S);
  const steps = parseJson(item.steps?.S);
  const status = item.status?.S;
  if (id === undefined || !isPlan(plan) || !isRecord(steps) || !isFlowStatus(status)) return undefined;
  const stepStates: Record<string, StepState> = {};
  for (const [name, value] of Object.entries(steps)) {
    const state = readStepState(value);
    if (state !== undefined) stepStates[name] = state;
  }
  const optional = (name: string): string | undefined => item[name]?.S;
  const description = optional('description');
  const failedStep = optional('failed_step');
  const finishedAt = optional('finished_at');
  const callbacksSentAt = optional('callbacks_sent_at');
  return {
    id,
    createdAt: optional('created_at') ?? '',
    ...(description === undefined ? {} : { description }),
    plan,
    status,
    steps: stepStates,
    retries: Number(item.retries?.N ?? '0'),
    ...(failedStep === undefined ? {} : { failedStep }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    version: Number(item.v?.N ?? '0'),
    ...(callbacksSentAt === undefined ? {} : { callbacksSentAt }),
  };
}

/**
 * The attributes a change to `progress` sets and removes (`failed_step` and `finished_at` are
 * removed when a retry clears them; a retry also clears `callbacks_sent_at`).
 */
export function progressAttributes(progress: FlowProgress): { readonly set: Record<string, AttributeValue>; readonly remove: readonly string[] } {
  const set: Record<string, AttributeValue> = {
    steps: { S: JSON.stringify(progress.steps) },
    status: { S: progress.status },
    retries: { N: String(progress.retries) },
  };
  const remove: string[] = [];
  if (progress.failedStep === undefined) remove.push('failed_step');
  else set.failed_step = { S: progress.failedStep };
  if (progress.finishedAt === undefined) remove.push('finished_at', 'callbacks_sent_at');
  else set.finished_at = { S: progress.finishedAt };
  return { set, remove };
}

function readStepState(value: unknown): StepState | undefined {
  if (!isRecord(value) || !isStepStatus(value.status) || typeof value.attempt !== 'number') return undefined;
  return {
    status: value.status,
    attempt: value.attempt,
    ...(typeof value.startedAt === 'string' ? { startedAt: value.startedAt } : {}),
    ...(typeof value.endedAt === 'string' ? { endedAt: value.endedAt } : {}),
  };
}

function isPlan(value: unknown): value is FlowPlan {
  return isRecord(value) && isRecord(value.steps) && Array.isArray(value.order) && isRecord(value.callbacks);
}

function isStepStatus(value: unknown): value is StepStatus {
  return typeof value === 'string' && Object.hasOwn(STEP_STATUSES, value);
}

function isFlowStatus(value: unknown): value is FlowStatus {
  return typeof value === 'string' && Object.hasOwn(FLOW_STATUSES, value);
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
