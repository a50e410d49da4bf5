/**
 * Reading a Lambda Function URL event (payload format 2.0) into an {@link ApiRequest}, and the
 * caller's tenant: taken from the identity the URL's IAM authorizer verified, mapped through the
 * configured tenant map — never from the request body.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { isRecord } from '../job/model.js';
import { principalOf, withoutRolePath } from '../aws/principal.js';
import type { ApiRequest, Caller } from './http.js';

export { principalOf } from '../aws/principal.js';

/** The request in `event`. */
export function readEvent(event: LambdaFunctionURLEvent): ApiRequest {
  const raw = event.body;
  const body = raw === undefined ? undefined : event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = value;
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(event.rawQueryString ?? '')) query[name] = value;
  const caller = callerOf(event.requestContext);
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath || '/',
    query,
    body,
    bodyBytes: body === undefined ? 0 : Buffer.byteLength(body, 'utf8'),
    headers,
    caller,
  };
}

/**
 * The IAM identity in a request context (`authorizer.iam`), which the Function URL sets only when
 * its auth type is AWS_IAM and the signature checked out.
 */
function callerOf(context: object): Caller | undefined {
  const authorizer: unknown = Reflect.get(context, 'authorizer');
  const iam: unknown = isRecord(authorizer) ? authorizer.iam : undefined;
  if (!isRecord(iam)) return undefined;
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  const userArn = text(iam.userArn);
  const accountId = text(iam.accountId);
  const callerId = text(iam.callerId);
  return { ...(userArn === undefined ? {} : { userArn }), ...(accountId === undefined ? {} : { accountId }), ...(callerId === undefined ? {} : { callerId }) };
}

/** The tenant of a caller without an identity (the handler refuses such requests before any route). */
export const ANONYMOUS_TENANT = 'anonymous';

/**
 * The tenant of `caller`: the first of its user ARN, its role ARN and its account id that the
 * tenant map names; otherwise the principal itself (role ARN for a role session, the user ARN, or
 * the account id). A role in the map may be given with its path (an IAM Identity Center role,
 * `arn:aws:iam::123:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0123`): a session of it
 * is named without the path, so the map is matched on role ARNs without paths.
 */
export function tenantOf(caller: Caller | undefined, tenants: Readonly<Record<string, string>>): string {
  if (caller === undefined) return ANONYMOUS_TENANT;
  const principal = caller.userArn === undefined ? undefined : principalOf(caller.userArn);
  const byPrincipal = new Map(Object.entries(tenants).map(([key, tenant]) => [withoutRolePath(key), tenant]));
  for (const candidate of [caller.userArn, principal, caller.accountId]) {
    if (candidate === undefined) continue;
    const tenant = byPrincipal.get(candidate);
    if (tenant !== undefined) return tenant;
  }
  return principal ?? caller.accountId ?? caller.callerId ?? ANONYMOUS_TENANT;
}
