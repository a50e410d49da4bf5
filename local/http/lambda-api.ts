/**
 * A small local Lambda API, so that functions (an admin API pausing a queue) and tools can do
 * what they would do against Lambda: list, read and update event source mappings
 * (`Enabled` pauses and resumes one) and invoke functions. An update leaves the mapping
 * `Enabling`, `Disabling` or `Updating` for a while, during which Lambda refuses another update
 * with `ResourceInUseException`; so does this API. Every other request — including
 * calls to AWS services the runtime does not emulate, which reach this server through
 * `AWS_ENDPOINT_URL` — gets a fast, explicit "not emulated" error instead of a slow attempt to
 * reach AWS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LAMBDA_LIMITS } from '../../lib/aws/lambda-limits.js';
import { isRecord } from '../../lib/job/model.js';
import type { FunctionPool } from '../host/function-pool.js';
import type { AsyncInvoker } from '../host/async-invoke.js';
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import { bindLoopback, boundPort, closeServer } from './loopback.js';
import type { LogStore } from '../log-store.js';
import { answerLogs, LOGS_TARGET_PREFIX } from './logs-api.js';
import type { MappingSpec } from '../resources/event-source-mapping.js';

/** A mapping as the API sees it. */
export interface MappingHandle {
  readonly spec: MappingSpec;
  readonly functionArn: string;
  readonly isEnabled: boolean;
  /**
   * Whether its poller still has a receive in progress; a disabled mapping lets that receive finish
   * (and its messages run), so it stays `Disabling` until then.
   */
  readonly receiving: boolean;
  setEnabled(enabled: boolean): void;
  /** ScalingConfig.MaximumConcurrency now (SQS mappings); undefined when unset. */
  readonly maximumConcurrency: number | undefined;
  /** Sets it (an SQS mapping); false for a mapping that has none to set (a stream's). */
  setMaximumConcurrency(value: number): boolean;
  /** Epoch seconds of the last change. */
  readonly lastModified: number;
}

/** What the API serves. */
export interface LambdaApiBackend {
  readonly mappings: () => readonly MappingHandle[];
  readonly findFunction: (nameOrArn: string) => FunctionPool | undefined;
  readonly asyncInvoker: AsyncInvoker;
  readonly log: LogSink;
  /**
   * How long an updated mapping stays `Enabling`, `Disabling` or `Updating`; Lambda refuses
   * another update meanwhile (`ResourceInUseException`), as it does in AWS.
   */
  readonly mappingUpdateMs: number;
  /** What the functions printed, for CloudWatch Logs' reads (./logs-api.ts). */
  readonly logStore?: LogStore;
}

/** A started Lambda API server. */
export interface LambdaApiServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The Lambda API's view of a mapping (EventSourceMappingConfiguration), in `state` when it is mid-change. */
export function mappingConfiguration(handle: MappingHandle, state?: string): Record<string, unknown> {
  const { spec } = handle;
  return {
    UUID: spec.uuid,
    FunctionArn: handle.functionArn,
    EventSourceArn: spec.eventSourceArn,
    State: state ?? (handle.isEnabled ? 'Enabled' : 'Disabled'),
    StateTransitionReason: 'USER_INITIATED',
    LastModified: handle.lastModified,
    BatchSize: spec.batchSize,
    MaximumBatchingWindowInSeconds: spec.maximumBatchingWindowSeconds,
    FunctionResponseTypes: spec.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
    ...(handle.maximumConcurrency === undefined ? {} : { ScalingConfig: { MaximumConcurrency: handle.maximumConcurrency } }),
    ...(spec.startingPosition === undefined ? {} : { StartingPosition: spec.startingPosition }),
  };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body === undefined ? '' : JSON.stringify(body));
}

function error(response: ServerResponse, status: number, type: string, message: string): void {
  send(response, status, { Type: 'User', message, __type: type }, { 'x-amzn-errortype': type });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Lambda's answer to an Invoke request over its payload limit (413 RequestEntityTooLargeException), if it is. */
function payloadProblem(body: string, invocationType: string | string[]): string | undefined {
  const limit = invocationType === 'Event' ? LAMBDA_LIMITS.asyncRequestBytes : LAMBDA_LIMITS.syncRequestBytes;
  return Buffer.byteLength(body, 'utf8') > limit ? `Request must be smaller than ${limit} bytes for the InvokeFunction operation` : undefined;
}

const ESM_PATH = /^\/2015-03-31\/event-source-mappings\/?([^/]*)$/;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** Starts the API on `port` (0 = a free one). */
export async function startLambdaApi(port: number, backend: LambdaApiBackend): Promise<LambdaApiServer> {
  // Mappings mid-change: UUID → the transitional state and when it ends.
  const changing = new Map<string, { readonly state: string; readonly untilMs: number }>();
  const transitional = (uuid: string): string | undefined => {
    const change = changing.get(uuid);
    const draining = change?.state === 'Disabling' && backend.mappings().some((mapping) => mapping.spec.uuid === uuid && mapping.receiving);
    if (change === undefined || (change.untilMs <= Date.now() && !draining)) {
      changing.delete(uuid);
      return undefined;
    }
    return change.state;
  };
  const view = (mapping: MappingHandle) => mappingConfiguration(mapping, transitional(mapping.spec.uuid));
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const esm = ESM_PATH.exec(url.pathname);
    if (esm !== null) {
      const uuid = decodeURIComponent(esm[1] ?? '');
      if (uuid === '' && method === 'GET') {
        const functionName = url.searchParams.get('FunctionName');
        const sourceArn = url.searchParams.get('EventSourceArn');
        const target = functionName === null ? undefined : backend.findFunction(functionName);
        const list = backend
          .mappings()
          .filter((mapping) => (functionName === null || mapping.functionArn === target?.spec.arn) && (sourceArn === null || mapping.spec.eventSourceArn === sourceArn));
        send(response, 200, { EventSourceMappings: list.map(view) });
        return;
      }
      const mapping = backend.mappings().find((candidate) => candidate.spec.uuid === uuid);
      if (mapping === undefined) return error(response, 404, 'ResourceNotFoundException', `The resource you requested does not exist. (event source mapping ${uuid})`);
      if (method === 'GET') return send(response, 200, view(mapping));
      if (method === 'PUT') {
        const busy = transitional(uuid);
        // Lambda's refusal of an update to a mapping that is still changing (status 400 in the
        // Lambda API). AWS documents the exception, not its text; the message is ours.
        if (busy !== undefined) return error(response, 400, 'ResourceInUseException', `Cannot update the event source mapping ${uuid}: it is currently in the ${busy} state. Try again when the change is done.`);
        const body: unknown = JSON.parse((await readBody(request)) || '{}');
        const enabled = isRecord(body) ? body.Enabled : undefined;
        const scaling = isRecord(body) && isRecord(body.ScalingConfig) ? body.ScalingConfig.MaximumConcurrency : undefined;
        if (scaling !== undefined) {
          if (typeof scaling !== 'number' || !Number.isInteger(scaling) || scaling < 2 || scaling > 1000) {
            return error(response, 400, 'InvalidParameterValueException', `ScalingConfig.MaximumConcurrency must be an integer from 2 to 1000, but ${JSON.stringify(scaling)} was provided`);
          }
          if (!mapping.setMaximumConcurrency(scaling)) return error(response, 400, 'InvalidParameterValueException', `ScalingConfig applies to SQS event source mappings only (${uuid} is not one)`);
          backend.log({ source: RUNTIME_SOURCE, level: 'info', message: `event source mapping ${mapping.spec.logicalId} maximum concurrency ${scaling}` });
        }
        if (typeof enabled === 'boolean') {
          mapping.setEnabled(enabled);
          backend.log({ source: RUNTIME_SOURCE, level: 'info', message: `event source mapping ${mapping.spec.logicalId} ${enabled ? 'enabled' : 'disabled'}` });
        }
        const state = enabled === false ? 'Disabling' : enabled === true ? 'Enabling' : 'Updating';
        if (backend.mappingUpdateMs > 0) changing.set(uuid, { state, untilMs: Date.now() + backend.mappingUpdateMs });
        return send(response, 202, mappingConfiguration(mapping, state));
      }
    }
    const target = request.headers['x-amz-target'];
    if (method === 'POST' && typeof target === 'string' && target.startsWith(LOGS_TARGET_PREFIX) && backend.logStore !== undefined) {
      let input: unknown;
      try {
        input = JSON.parse((await readBody(request)) || '{}');
      } catch {
        return send(response, 400, { __type: 'SerializationException', message: 'the request body is not JSON' }, { 'content-type': 'application/x-amz-json-1.1' });
      }
      const answer = answerLogs(backend.logStore, target.slice(LOGS_TARGET_PREFIX.length), input);
      return send(response, answer.status, answer.body, { 'content-type': 'application/x-amz-json-1.1' });
    }
    const invoke = INVOKE_PATH.exec(url.pathname);
    if (invoke !== null && method === 'POST') {
      const pool = backend.findFunction(decodeURIComponent(invoke[1] ?? ''));
      if (pool === undefined) return error(response, 404, 'ResourceNotFoundException', `Function not found: ${invoke[1] ?? ''}`);
      const raw = await readBody(request);
      const type = request.headers['x-amz-invocation-type'] ?? 'RequestResponse';
      const tooLarge = payloadProblem(raw, type);
      if (tooLarge !== undefined) return error(response, 413, 'RequestEntityTooLargeException', tooLarge);
      let event: unknown;
      try {
        event = raw === '' ? {} : JSON.parse(raw);
      } catch {
        return error(response, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
      }
      if (type === 'DryRun') return send(response, 204, undefined);
      if (type === 'Event') {
        backend.asyncInvoker.invoke(pool, event);
        return send(response, 202, undefined);
      }
      const invocation = await pool.invoke(event);
      if (!invocation.ok && invocation.throttled !== undefined) {
        return send(response, 429, { Type: 'User', message: invocation.error.errorMessage, Reason: invocation.throttled, __type: invocation.error.errorType }, { 'x-amzn-errortype': invocation.error.errorType });
      }
      if (invocation.ok) return send(response, 200, invocation.value, { 'x-amz-executed-version': '$LATEST' });
      return send(response, 200, invocation.error, { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' });
    }
    error(response, 501, 'NotImplemented', `${method} ${url.pathname} is not emulated by the Hopper local runtime (host ${request.headers.host ?? 'unknown'})`);
  };
  const server = await bindLoopback(port);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((failure: unknown) => error(response, 500, 'ServiceException', failure instanceof Error ? failure.message : String(failure)));
  });
  return { url: `http://127.0.0.1:${boundPort(server)}`, close: () => closeServer(server) };
}
