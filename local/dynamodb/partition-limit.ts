/**
 * The arithmetic of the local partition limit (front.ts): a token bucket of write units per table
 * and partition key value, one second deep (`burstSeconds`), refilled at the limit. DynamoDB states
 * its partition limit per second (1,000 write units) and throttles a key that goes past it for more
 * than a moment; a one-second bucket lets the burst of one second through and no more.
 */

/** How much one partition key may take. */
export interface PartitionLimit {
  /** Write units per second per partition key value (AWS: 1,000). */
  readonly writeUnitsPerSecond: number;
  /**
   * Seconds of units a quiet key may spend at once. Less than 1 is stricter than AWS: a scale
   * model that runs for a fraction of a second of its own time uses it so that a key's rate, not
   * its first second's allowance, decides. @default 1
   */
  readonly burstSeconds?: number;
}

/** AWS's per-partition write throughput. */
export const AWS_PARTITION_WRITE_UNITS = 1_000;

/** One item's share of a write request. */
export interface PartitionCharge {
  readonly table: string;
  /** The partition key value as JSON; empty when unknown (never limited). */
  readonly partition: string;
  readonly units: number;
}

/** What one partition key took while counted. */
export interface PartitionReport {
  readonly table: string;
  readonly partition: string;
  /** Write units let through. */
  readonly units: number;
  /** Write units asked for: let through and refused. */
  readonly offeredUnits: number;
  /** Requests (or batch items) refused. */
  readonly throttled: number;
  /** The most units let through in one calendar second. */
  readonly peakUnitsPerSecond: number;
}

interface Bucket {
  tokens: number;
  refilledAtMs: number;
  units: number;
  refusedUnits: number;
  throttled: number;
  second: number;
  unitsThisSecond: number;
  peak: number;
  readonly table: string;
  readonly partition: string;
}

/**
 * Validates a limit.
 * @throws Error naming the field when the limit is not a positive finite number.
 */
export function checkPartitionLimit(limit: PartitionLimit): PartitionLimit {
  if (!Number.isFinite(limit.writeUnitsPerSecond) || limit.writeUnitsPerSecond <= 0) {
    throw new Error(`partition limit: writeUnitsPerSecond must be a positive number of write units per second, got ${String(limit.writeUnitsPerSecond)}`);
  }
  if (limit.burstSeconds !== undefined && !(Number.isFinite(limit.burstSeconds) && limit.burstSeconds > 0)) {
    throw new Error(`partition limit: burstSeconds must be a positive number of seconds, got ${String(limit.burstSeconds)}`);
  }
  return limit;
}

/** Counts write units per partition key and says which charges go past the limit. */
export class PartitionMeter {
  private readonly buckets = new Map<string, Bucket>();
  /** Units a full bucket holds. */
  private readonly depth: number;

  constructor(
    readonly limit: PartitionLimit,
    private readonly now: () => number,
  ) {
    checkPartitionLimit(limit);
    this.depth = limit.writeUnitsPerSecond * (limit.burstSeconds ?? 1);
  }

  /**
   * Takes the charges of one request. Returns the indexes of the hot ones (their partition has not
   * the units left). The cool charges are taken when `partial` (a batch write lets them through) or
   * when none is hot; a request refused whole takes nothing.
   */
  take(charges: readonly PartitionCharge[], partial = false): Set<number> {
    const nowMs = this.now();
    // Units per partition key, with a charge that names the key.
    const needs = new Map<string, { charge: PartitionCharge; units: number }>();
    for (const charge of charges) {
      if (charge.partition === '') continue;
      const key = keyOf(charge);
      const need = needs.get(key);
      if (need === undefined) needs.set(key, { charge, units: charge.units });
      else need.units += charge.units;
    }
    const hotKeys = new Set<string>();
    for (const [key, { charge, units }] of needs) {
      const bucket = this.refilled(key, charge, nowMs);
      // A request larger than a full bucket can pass only into a full bucket.
      if (bucket.tokens < Math.min(units, this.depth)) hotKeys.add(key);
    }
    const hot = new Set<number>();
    charges.forEach((charge, index) => {
      if (charge.partition !== '' && hotKeys.has(keyOf(charge))) hot.add(index);
    });
    for (const key of hotKeys) {
      const bucket = this.bucketOf(key);
      bucket.throttled += 1;
      bucket.refusedUnits += needs.get(key)?.units ?? 0;
    }
    if (hot.size > 0 && !partial) return hot;
    for (const [key, { units }] of needs) if (!hotKeys.has(key)) this.spend(this.bucketOf(key), units, nowMs);
    return hot;
  }

  /** Every partition key counted, busiest first. */
  report(): PartitionReport[] {
    return [...this.buckets.values()]
      .map(({ table, partition, units, refusedUnits, throttled, peak }) => ({ table, partition, units, offeredUnits: units + refusedUnits, throttled, peakUnitsPerSecond: peak }))
      .sort((a, b) => b.peakUnitsPerSecond - a.peakUnitsPerSecond || b.throttled - a.throttled);
  }

  /** Forgets every count (buckets refill as if idle). */
  reset(): void {
    this.buckets.clear();
  }

  private bucketOf(key: string): Bucket {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) throw new Error(`no bucket for ${key}`);
    return bucket;
  }

  private refilled(key: string, charge: PartitionCharge, nowMs: number): Bucket {
    let bucket = this.buckets.get(key);
    const rate = this.limit.writeUnitsPerSecond;
    if (bucket === undefined) {
      bucket = { tokens: this.depth, refilledAtMs: nowMs, units: 0, refusedUnits: 0, throttled: 0, second: Math.floor(nowMs / 1000), unitsThisSecond: 0, peak: 0, table: charge.table, partition: charge.partition };
      this.buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(this.depth, bucket.tokens + ((nowMs - bucket.refilledAtMs) / 1000) * rate);
    bucket.refilledAtMs = nowMs;
    return bucket;
  }

  private spend(bucket: Bucket, units: number, nowMs: number): void {
    bucket.tokens -= units;
    bucket.units += units;
    const second = Math.floor(nowMs / 1000);
    if (second !== bucket.second) {
      bucket.second = second;
      bucket.unitsThisSecond = 0;
    }
    bucket.unitsThisSecond += units;
    bucket.peak = Math.max(bucket.peak, bucket.unitsThisSecond);
  }
}

function keyOf(charge: PartitionCharge): string {
  return `${charge.table}\u0000${charge.partition}`;
}
