/**
 * Lambda-backed custom resources, run as CloudFormation runs them: the function named by the
 * resource's `ServiceToken` is invoked with a `Create` request whose `ResponseURL` is a local
 * address, and the resource exists once the function has PUT `SUCCESS` there. A `FAILED` answer, a
 * failed invocation or no answer stops the start with the reason, where CloudFormation would roll
 * the stack back (after an hour, for no answer). Scalars in the properties reach the function as
 * strings, as CloudFormation passes them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { TemplateError } from '../../lib/errors/local.js';
import { isRecord } from '../../lib/job/model.js';
import { LOCAL_IDENTITY } from '../emulators.js';

/** A custom resource of the template, its properties resolved. */
export interface CustomResourceSpec {
  readonly logicalId: string;
  readonly type: string;
  readonly serviceToken: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** Whether CloudFormation treats `type` as a custom resource. */
export function isCustomResourceType(type: string): boolean {
  return type === 'AWS::CloudFormation::CustomResource' || type.startsWith('Custom::');
}

/** Runs one invocation of a function, as the runtime's pools do. */
export type Invoke = (functionArn: string, event: unknown) => Promise<{ readonly ok: true } | { readonly ok: false; readonly error: { readonly errorType: string; readonly errorMessage: string } }>;

/** How long a function has to answer after its invocation returned (the PUT is usually before). */
const ANSWER_GRACE_MS = 2_000;

/**
 * Creates `resources` in order.
 *
 * @throws TemplateError naming the resource that failed, with its reason.
 */
export async function createCustomResources(resources: readonly CustomResourceSpec[], stackName: string, invoke: Invoke): Promise<void> {
  if (resources.length === 0) return;
  const answers = new Map<string, (body: string) => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const deliver = req.method === 'PUT' ? answers.get((req.url ?? '').slice(1)) : undefined;
      res.writeHead(deliver === undefined ? 404 : 200).end();
      deliver?.(Buffer.concat(chunks).toString('utf8'));
    });
  });
  const port = await listen(server);
  const stackId = `arn:aws:cloudformation:${LOCAL_IDENTITY.region}:${LOCAL_IDENTITY.accountId}:stack/${stackName}/${randomUUID()}`;
  try {
    for (const resource of resources) {
      const fail = (problem: string): TemplateError => new TemplateError(resource.logicalId, resource.type, problem);
      const requestId = randomUUID();
      const answered = new Promise<string>((resolve) => answers.set(requestId, resolve));
      const invocation = await invoke(resource.serviceToken, {
        RequestType: 'Create',
        ServiceToken: resource.serviceToken,
        ResponseURL: `http://127.0.0.1:${port}/${requestId}`,
        StackId: stackId,
        RequestId: requestId,
        LogicalResourceId: resource.logicalId,
        ResourceType: resource.type,
        ResourceProperties: { ...asCloudFormationPasses(resource.properties), ServiceToken: resource.serviceToken },
      });
      if (!invocation.ok) throw fail(`its function failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`);
      let timer: NodeJS.Timeout | undefined;
      const body = await Promise.race([answered, new Promise<undefined>((resolve) => { timer = setTimeout(resolve, ANSWER_GRACE_MS, undefined); })]);
      clearTimeout(timer);
      answers.delete(requestId);
      if (body === undefined) throw fail('its function returned without PUTting an answer to the ResponseURL; CloudFormation would wait an hour and roll back');
      const answer: unknown = JSON.parse(body);
      const status = isRecord(answer) ? answer.Status : undefined;
      if (status !== 'SUCCESS') {
        const reason = isRecord(answer) && typeof answer.Reason === 'string' ? answer.Reason : 'no reason given';
        throw fail(`its function answered ${String(status)}: ${reason}`);
      }
    }
  } finally {
    server.close();
  }
}

/** `value` with every number and boolean turned into a string. */
function asCloudFormationPasses(value: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const convert = (item: unknown): unknown => {
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    if (Array.isArray(item)) return item.map(convert);
    if (isRecord(item)) return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, convert(inner)]));
    return item;
  };
  return convert(value) as Record<string, unknown>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}
