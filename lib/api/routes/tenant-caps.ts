/**
 * Per-tenant caps (a queue's `perTenant`) and their runtime overrides:
 * - `GET /v1/limits/tenants`: the declared caps and every override;
 * - `PUT /v1/limits/tenants/{tenant}`: sets a tenant's override (the whole of it) on one queue
 *   (`queue` in the body) or on every queue declaring `perTenant`;
 * - `DELETE /v1/limits/tenants/{tenant}?queue=email`: removes one.
 * Workers read a tenant's overrides at most 30 seconds old, so a change is in force within a minute.
 */
import { isHopperError } from '../../errors/base.js';
import { isRecord } from '../../job/model.js';
import { NAMED_INTERVALS } from '../../limiters/spec.js';
import { validateTenantCap, type TenantCap } from '../../limiters/tenant-caps.js';
import type { TenantOverride } from '../../limiters/tenant-overrides.js';
import type { ApiContext } from '../context.js';
import { badParameter, describeValue, json, jsonBody, notFound, type ApiRequest, type ApiResponse } from '../http.js';
import type { PathParams, Route } from '../router.js';
import type { TenantCapsView, TenantCapView, TenantOverrideView } from '../wire.js';

/** Most overrides `GET /v1/limits/tenants` lists. */
export const MAX_LISTED_OVERRIDES = 1_000;

/** Longest tenant id an override may name. */
export const TENANT_ID_MAX_LENGTH = 256;

/** The routes. */
export function tenantCapRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'GET', path: '/v1/limits/tenants', handle: () => listCaps(ctx) },
    { method: 'PUT', path: '/v1/limits/tenants/{tenant}', handle: (request, params) => setOverride(ctx, request, params) },
    { method: 'DELETE', path: '/v1/limits/tenants/{tenant}', handle: (request, params) => removeOverride(ctx, request, params) },
  ];
}

/** A cap as the wire shows it. */
export function capView(cap: TenantCap): TenantCapView {
  return {
    ...(cap.concurrency === undefined ? {} : { concurrency: cap.concurrency }),
    ...(cap.rate === undefined ? {} : { rate: { limit: cap.rate.limit, per_seconds: cap.rate.perSeconds } }),
  };
}

function overrideView(override: TenantOverride): TenantOverrideView {
  return { tenant: override.tenant, queue: override.queue ?? null, cap: capView(override.cap), updated_at: override.updatedAt };
}

async function listCaps(ctx: ApiContext): Promise<ApiResponse> {
  const overrides = await ctx.tenantOverrides.list(MAX_LISTED_OVERRIDES + 1);
  const view: TenantCapsView = {
    declared: Object.fromEntries(Object.entries(ctx.config.tenantCaps).map(([queue, caps]) => [queue, capView(caps.cap)])),
    overrides: overrides.slice(0, MAX_LISTED_OVERRIDES).map(overrideView),
    truncated: overrides.length > MAX_LISTED_OVERRIDES,
  };
  return json(200, view);
}

async function setOverride(ctx: ApiContext, request: ApiRequest, params: PathParams): Promise<ApiResponse> {
  const tenant = tenantOf(params);
  const body = jsonBody(request, true);
  if (!isRecord(body)) throw badParameter('body', 'a JSON object { queue?, concurrency?, rate?: { limit, per } }', describeValue(body));
  const { queue, concurrency, rate, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badParameter(`body.${unknown}`, 'absent (an override has queue, concurrency and rate)', describeValue(rest[unknown]));
  const target = queueOf(ctx, queue, 'body.queue');
  if (concurrency === undefined && rate === undefined) throw badParameter('body', 'concurrency, rate or both', 'neither');
  let cap: TenantCap;
  try {
    cap = validateTenantCap('body', { ...(concurrency === undefined ? {} : { concurrency }), ...(rate === undefined ? {} : { rate: rateOf(rate) }) });
  } catch (error) {
    if (isHopperError(error, 'InvalidTenantCapError') && 'field' in error && 'expected' in error && 'received' in error) {
      throw badParameter(String(error.field), String(error.expected), String(error.received));
    }
    throw error;
  }
  const override: TenantOverride = { tenant, ...(target === undefined ? {} : { queue: target }), cap, updatedAt: new Date(ctx.now()).toISOString() };
  await ctx.tenantOverrides.set(override);
  ctx.logger.info('tenant cap override set', { tenant, queue: target ?? '*', cap: JSON.stringify(cap) });
  return json(200, overrideView(override));
}

async function removeOverride(ctx: ApiContext, request: ApiRequest, params: PathParams): Promise<ApiResponse> {
  const tenant = tenantOf(params);
  const raw = request.query.queue;
  const queue = raw === undefined || raw === '' ? undefined : queueOf(ctx, raw, 'queue');
  if (!(await ctx.tenantOverrides.remove(tenant, queue))) {
    throw notFound(`tenant ${JSON.stringify(tenant)} has no override ${queue === undefined ? 'for every queue' : `on queue ${JSON.stringify(queue)}`}`);
  }
  ctx.logger.info('tenant cap override removed', { tenant, queue: queue ?? '*' });
  return { statusCode: 204, headers: {}, body: '' };
}

function tenantOf(params: PathParams): string {
  const tenant = params.tenant ?? '';
  if (tenant.length === 0 || tenant.length > TENANT_ID_MAX_LENGTH) throw badParameter('tenant', `a tenant id of 1 to ${TENANT_ID_MAX_LENGTH} characters`, describeValue(tenant));
  return tenant;
}

/**
 * The queue an override names, which must declare `perTenant` (an override elsewhere would never be
 * read); undefined for every queue, which needs at least one such queue.
 */
function queueOf(ctx: ApiContext, queue: unknown, field: string): string | undefined {
  const capped = Object.keys(ctx.config.tenantCaps);
  const expected = capped.length === 0 ? 'absent: no queue declares perTenant' : `one of the queues declaring perTenant: ${capped.join(', ')}`;
  if (queue === undefined) {
    if (capped.length === 0) throw badParameter('tenant caps', 'declared on a queue (perTenant) before a tenant can be given an override', 'no queue declaring perTenant');
    return undefined;
  }
  if (typeof queue !== 'string' || !Object.hasOwn(ctx.config.tenantCaps, queue)) throw badParameter(field, expected, describeValue(queue));
  return queue;
}

/** A rate from the body (`per` named or in seconds) as a cap's `{ limit, perSeconds }`. */
function rateOf(rate: unknown): unknown {
  if (!isRecord(rate)) return rate;
  const { per, ...rest } = rate;
  const named = Object.entries(NAMED_INTERVALS).find(([name]) => name === per);
  const perSeconds = named === undefined ? per : named[1];
  return { ...rest, perSeconds };
}
