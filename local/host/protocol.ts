/**
 * Messages between the function host (parent) and a function instance (child process), over the
 * child's IPC channel, JSON-serialized.
 */

/** The Lambda context fields the parent decides. */
export interface InvokeContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
}

/** Parent → child: run the handler once. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch ms at which the invocation times out (for getRemainingTimeInMillis). */
  readonly deadlineMs: number;
  readonly context: InvokeContext;
}

/** Parent → child: the clock offset changed (the child updates HOPPER_CLOCK_OFFSET_MS). */
export interface ClockMessage {
  readonly type: 'clock';
  readonly offsetMs: number;
}

/** Messages a child receives. */
export type ParentMessage = InvokeMessage | ClockMessage;

/** An error as Lambda reports it. */
export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

/** Child → parent: the handler module loaded (or failed to). */
export type InitMessage = { readonly type: 'ready' } | { readonly type: 'init-error'; readonly error: LambdaError };

/** Child → parent: an invocation finished. */
export type ResultMessage =
  | { readonly type: 'result'; readonly requestId: string; readonly ok: true; readonly value: unknown }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly ok: false;
      readonly error: LambdaError;
      /** The instance is exiting (an uncaught exception): it must not get another invocation. */
      readonly fatal?: boolean;
    };

/** Messages a child sends. */
export type ChildMessage = InitMessage | ResultMessage;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Narrows an IPC message from a child. */
export function isChildMessage(value: unknown): value is ChildMessage {
  return isObject(value) && (value.type === 'ready' || value.type === 'init-error' || value.type === 'result');
}

/** Narrows an IPC message from the parent. */
export function isParentMessage(value: unknown): value is ParentMessage {
  return isObject(value) && (value.type === 'invoke' || value.type === 'clock');
}

/** Converts anything thrown into Lambda's error shape. */
export function toLambdaError(error: unknown, fallbackType = 'Error'): LambdaError {
  if (error instanceof Error) {
    return {
      errorType: error.name || fallbackType,
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n').filter((line) => line.length > 0),
    };
  }
  return { errorType: fallbackType, errorMessage: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error), trace: [] };
}
