import { describe, expect, it } from 'vitest';
import { jobQueueUrl, queueResolver } from '../../lib/aws/queues.js';
import { parseQueueTiers, parseTierMappings, type QueueTiers } from '../../lib/config/queue-tiers.js';
import { ENV } from '../../lib/config/env.js';
import { ConfigurationError, InvalidJobError } from '../../lib/errors/base.js';
import { defaultTierOf, tierOfJob, tierOfPriority } from '../../lib/job/tier.js';

const HOST = 'https://sqs.eu-central-1.amazonaws.com/123456789012';
const QUEUE_URLS = { email: `${HOST}/App-JobsQueueemail-A1`, plain: `${HOST}/App-JobsQueueplain-B2` } as const;
const TIERS: QueueTiers = {
  email: {
    names: ['critical', 'default', 'bulk'],
    defaultTier: 'default',
    tiers: [
      { name: 'critical', url: `${HOST}/App-JobsQueueemailcritical-C3`, targetSeconds: 5 },
      // The default tier keeps the queue's own SQS queue.
      { name: 'default', url: QUEUE_URLS.email, targetSeconds: 60 },
      { name: 'bulk', url: `${HOST}/App-JobsQueueemailbulk-D4`, targetSeconds: 3600 },
    ],
  },
};
const THREE = ['critical', 'default', 'bulk'] as const;

describe('tierOfPriority', () => {
  it.each([
    [9, 'critical'], [8, 'critical'], [7, 'critical'], [6, 'critical'],
    [5, 'default'], [4, 'default'], [3, 'default'],
    [2, 'bulk'], [1, 'bulk'], [0, 'bulk'],
  ])('maps priority %i of three tiers to %s', (priority, tier) => {
    expect(tierOfPriority(priority, THREE)).toBe(tier);
  });

  it.each([[9, 'fast'], [5, 'fast'], [4, 'slow'], [0, 'slow']])('maps priority %i of two tiers to %s', (priority, tier) => {
    expect(tierOfPriority(priority, ['fast', 'slow'])).toBe(tier);
  });
});

describe('defaultTierOf', () => {
  it('is the tier named default, else the last', () => {
    expect(defaultTierOf(['critical', 'default', 'bulk'])).toBe('default');
    expect(defaultTierOf(['now', 'later'])).toBe('later');
  });
});

describe('tierOfJob', () => {
  const layout = { names: THREE, defaultTier: 'default' };

  it('takes custom.tier, then custom.priority, then the default tier', () => {
    expect(tierOfJob({ queue: 'email', custom: { tier: 'bulk', priority: 9 } }, layout)).toBe('bulk');
    expect(tierOfJob({ queue: 'email', custom: { priority: 9 } }, layout)).toBe('critical');
    expect(tierOfJob({ queue: 'email' }, layout)).toBe('default');
  });

  it('refuses a tier the queue does not have, naming the field and the tiers', () => {
    expect(() => tierOfJob({ queue: 'email', custom: { tier: 'urgent' } }, layout, { path: 'jobs[2].' })).toThrowError(
      new InvalidJobError('jobs[2].custom.tier', 'one of the tiers of queue email (critical, default, bulk)', '"urgent"'),
    );
  });

  it.each([[10], [-1], [4.5], ['9']])('refuses priority %j', (priority) => {
    expect(() => tierOfJob({ queue: 'email', custom: { priority } }, layout)).toThrowError(
      new InvalidJobError('custom.priority', 'an integer from 0 (least urgent) to 9 (most urgent)', JSON.stringify(priority)),
    );
  });

  it('falls back to the default tier when lenient (a job Hopper moves is never lost for its tier)', () => {
    expect(tierOfJob({ queue: 'email', custom: { tier: 'removed' } }, layout, { lenient: true })).toBe('default');
    expect(tierOfJob({ queue: 'email', custom: { priority: 42 } }, layout, { lenient: true })).toBe('default');
  });
});

describe('jobQueueUrl', () => {
  it("sends a job to its tier's queue, and a job of a queue without tiers to the queue", () => {
    expect(jobQueueUrl({ queue: 'email', custom: { tier: 'critical' } }, QUEUE_URLS, TIERS)).toBe(`${HOST}/App-JobsQueueemailcritical-C3`);
    expect(jobQueueUrl({ queue: 'email', custom: { priority: 0 } }, QUEUE_URLS, TIERS)).toBe(`${HOST}/App-JobsQueueemailbulk-D4`);
    expect(jobQueueUrl({ queue: 'email' }, QUEUE_URLS, TIERS)).toBe(QUEUE_URLS.email);
    expect(jobQueueUrl({ queue: 'plain', custom: { priority: 9 } }, QUEUE_URLS, TIERS)).toBe(QUEUE_URLS.plain);
  });

  it('is undefined for an undeclared queue', () => {
    expect(jobQueueUrl({ queue: 'nope' }, QUEUE_URLS, TIERS)).toBeUndefined();
  });

  it('refuses custom.tier on a queue without tiers unless lenient', () => {
    expect(() => jobQueueUrl({ queue: 'plain', custom: { tier: 'bulk' } }, QUEUE_URLS, TIERS)).toThrowError(
      new InvalidJobError('custom.tier', 'absent: queue plain declares no tiers', '"bulk"'),
    );
    expect(jobQueueUrl({ queue: 'plain', custom: { tier: 'bulk' } }, QUEUE_URLS, TIERS, { lenient: true })).toBe(QUEUE_URLS.plain);
  });
});

describe('queueResolver with tiers', () => {
  const resolver = queueResolver(QUEUE_URLS, TIERS);
  const arn = (name: string) => `arn:aws:sqs:eu-central-1:123456789012:${name}`;

  it("resolves a tier queue's ARN to its logical queue, its tier and its own URL", () => {
    expect(resolver.nameOf(arn('App-JobsQueueemailbulk-D4'))).toBe('email');
    expect(resolver.tierOf(arn('App-JobsQueueemailbulk-D4'))).toBe('bulk');
    expect(resolver.sourceUrlOf(arn('App-JobsQueueemailbulk-D4'))).toBe(`${HOST}/App-JobsQueueemailbulk-D4`);
    expect(resolver.tierOf(arn('App-JobsQueueemail-A1'))).toBe('default');
    expect(resolver.nameOf(arn('App-JobsQueueplain-B2'))).toBe('plain');
    expect(resolver.tierOf(arn('App-JobsQueueplain-B2'))).toBeUndefined();
  });

  it("sends a job back to its tier's queue, leniently", () => {
    expect(resolver.urlOf({ queue: 'email', custom: { tier: 'critical', priority: 0 } })).toBe(`${HOST}/App-JobsQueueemailcritical-C3`);
    expect(resolver.urlOf({ queue: 'email', custom: { tier: 'gone' } })).toBe(QUEUE_URLS.email);
  });
});

describe('parseQueueTiers and parseTierMappings', () => {
  it('reads the variables the construct writes', () => {
    const raw = { email: { defaultTier: 'default', tiers: TIERS.email?.tiers } };
    expect(parseQueueTiers({ [ENV.queueTiers]: JSON.stringify(raw) })).toEqual(TIERS);
    expect(parseTierMappings({ [ENV.tierMappings]: JSON.stringify({ email: { invocations: 12, perInvocation: 5, mappings: { critical: 'u1' } } }) }))
      .toEqual({ email: { invocations: 12, perInvocation: 5, mappings: { critical: 'u1' } } });
    expect(parseQueueTiers({})).toEqual({});
  });

  it('names the variable and the queue when an entry is malformed', () => {
    expect(() => parseQueueTiers({ [ENV.queueTiers]: JSON.stringify({ email: { defaultTier: 'x', tiers: TIERS.email?.tiers } }) }))
      .toThrowError(ConfigurationError);
    expect(() => parseQueueTiers({ [ENV.queueTiers]: JSON.stringify({ email: { defaultTier: 'x', tiers: [] } }) }))
      .toThrowError(/HOPPER_QUEUE_TIERS: email must be/);
    expect(() => parseTierMappings({ [ENV.tierMappings]: JSON.stringify({ email: { invocations: 0, perInvocation: 5, mappings: {} } }) }))
      .toThrowError(/HOPPER_TIER_MAPPINGS: email must be/);
  });
});
