/**
 * The per-tenant caps of the queues that declare `perTenant`, as the JobSystem construct tells the
 * functions in `HOPPER_TENANT_CAPS`: the cap itself (lib/limiters/tenant-caps.ts) and how long a
 * tenant's concurrency lease lasts if its worker dies holding it (the worker's timeout).
 */
import { ConfigurationError } from '../errors/base.js';
import { isRecord } from '../job/model.js';
import { validateTenantCap, type TenantCap } from '../limiters/tenant-caps.js';
import { ENV, jsonObjectFromEnv, type Env } from './env.js';

/** The per-tenant caps of one queue. */
export interface QueueTenantCaps {
  /** The cap every tenant has unless overridden. */
  readonly cap: TenantCap;
  /** Seconds a tenant's concurrency lease lasts if its holder dies. */
  readonly leaseSeconds: number;
}

/**
 * Reads `HOPPER_TENANT_CAPS` (queue name → {@link QueueTenantCaps}); an unset variable means no
 * queue caps its tenants.
 *
 * @throws ConfigurationError (InvalidTenantCapError for a cap) naming the variable and the queue when an entry is malformed.
 */
export function parseTenantCaps(env: Env): Readonly<Record<string, QueueTenantCaps>> {
  const caps: Record<string, QueueTenantCaps> = {};
  for (const [queue, value] of Object.entries(jsonObjectFromEnv(env, ENV.tenantCaps, 'queue name to { cap, leaseSeconds }'))) {
    const where = `environment variable ${ENV.tenantCaps}: ${queue}`;
    if (!isRecord(value) || typeof value.leaseSeconds !== 'number' || !Number.isInteger(value.leaseSeconds) || value.leaseSeconds < 1) {
      throw new ConfigurationError(`${where} must be { cap, leaseSeconds } with leaseSeconds a positive integer, but ${JSON.stringify(value)} was provided`);
    }
    caps[queue] = { cap: validateTenantCap(`${where}.cap`, value.cap), leaseSeconds: value.leaseSeconds };
  }
  return caps;
}
