/**
 * Fault injection for the chaos suite, loaded into every function process of the local runtime
 * (`startLocal({ functionPreload: [this file] })`, i.e. `node --import`) before its handler.
 *
 * Plain JavaScript because `node --import` loads it without a TypeScript loader. It registers an
 * AWS SDK middleware in Hopper's client-middleware registry (lib/aws/clients.ts keeps it on globalThis under
 * `Symbol.for('hopper.aws.clientMiddleware')`), so every SQS and DynamoDB client the function builds
 * applies it. The middleware sits at the `initialize` step, outside the SDK's own retries: Hopper's
 * code sees every fault, as it would after the SDK gave up.
 *
 * Configured by `HOPPER_CHAOS_FAULTS`, JSON of {@link FaultConfig}; absent, the module does nothing.
 * Every injected fault is appended as one JSON line to `<recordDir>/faults.jsonl` (one `write` per
 * line with O_APPEND, so processes do not interleave within a line).
 *
 * @typedef {object} FaultConfig
 * @property {number} seed - seeds each process's generator (with the process id and function name)
 * @property {number} before - probability that a call fails before it reaches the service
 * @property {number} after - probability that a call that reached the service (and did its write)
 *   is reported to the caller as failed: a function crashing between two writes, seen from inside
 * @property {string} recordDir - where faults.jsonl is written
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const REGISTRY = Symbol.for('hopper.aws.clientMiddleware');

/** Faults thrown before the request, as the SDK shapes them. */
const BEFORE_KINDS = [
  { kind: 'throttling', make: (service) => serviceError(service === 'dynamodb' ? 'ProvisionedThroughputExceededException' : 'ThrottlingException', 400, 'client', 'Rate exceeded') },
  { kind: 'internal-500', make: () => serviceError('InternalServerError', 500, 'server', 'We encountered an internal error. Please try again.') },
  { kind: 'unavailable-503', make: () => serviceError('ServiceUnavailable', 503, 'server', 'Service is unavailable. Please try again.') },
  { kind: 'econnreset', make: () => networkError('ECONNRESET', 'read ECONNRESET') },
  { kind: 'timeout', make: () => Object.assign(new Error('socket hang up: connection timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' }) },
];

function serviceError(name, status, fault, message) {
  return Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status, attempts: 1, totalRetryDelay: 0 } });
}

function networkError(code, message) {
  return Object.assign(new Error(message), { code, errno: -104, syscall: 'read' });
}

/** mulberry32, as lib/common/random.ts: small, seeded, good enough to pick faults. */
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function hash(text) {
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
  return h >>> 0;
}

function install(config) {
  const fn = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'unknown';
  const random = generator(hash(`${config.seed}:${fn}:${process.pid}`));
  const file = join(config.recordDir, 'faults.jsonl');
  const record = (kind, phase, command) => appendFileSync(file, `${JSON.stringify({ kind, phase, command, fn })}\n`);
  const middleware = (next, context) => async (args) => {
    const client = String(context.clientName ?? '');
    const command = String(context.commandName ?? 'unknown');
    const service = client.startsWith('DynamoDB') ? 'dynamodb' : client.startsWith('SQS') ? 'sqs' : 'other';
    if (service === 'other') return next(args);
    const roll = random();
    if (roll < config.before) {
      const chosen = BEFORE_KINDS[Math.floor(random() * BEFORE_KINDS.length)];
      record(chosen.kind, 'before', command);
      throw chosen.make(service);
    }
    const output = await next(args);
    if (roll < config.before + config.after) {
      record('after-write', 'after', command);
      throw networkError('ECONNRESET', 'read ECONNRESET (the request was processed)');
    }
    return output;
  };
  const holder = globalThis;
  holder[REGISTRY] ??= [];
  holder[REGISTRY].push({ name: 'hopperChaosFaults', step: 'initialize', middleware });
}

const raw = process.env.HOPPER_CHAOS_FAULTS;
if (raw !== undefined && raw !== '') install(JSON.parse(raw));
