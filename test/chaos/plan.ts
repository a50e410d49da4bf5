/**
 * The chaos run's plan: which jobs to enqueue, how (plain, scheduled, batch, unique, limited,
 * delivered twice) and what each attempt of each does, drawn from a seeded generator so that a run
 * can be repeated. What each job should end as follows from its plan (see
 * test/fixtures/handlers/chaos-worker.ts and its Python twin, test/fixtures/python/chaos_worker).
 */
import type { JobInput } from '../../lib/job/model.js';
import { mulberry32 } from '../../lib/common/random.js';
import type { Expected, PlannedBatch, PlannedJob } from './invariants.js';

/** How many jobs of each kind to enqueue. */
export interface ChaosSizes {
  readonly plain: number;
  /** Jobs sent twice with the same jid (a duplicate delivery). */
  readonly duplicated: number;
  /** Jobs due 3–20 s after the enqueue (an SQS delay). */
  readonly scheduledSoon: number;
  /** Jobs due 20 minutes ahead (the scheduled set; the run shifts the clock to them). */
  readonly scheduledLater: number;
  readonly batches: number;
  readonly jobsPerBatch: number;
  /** Unique jobs, each enqueued twice (the second is refused). */
  readonly unique: number;
  /** Jobs on the `limited` queue that run inside a small concurrent limiter. */
  readonly limited: number;
}

/** The sizes of the chaos test (2,010 jobs); bench/chaos.ts scales them. */
export const CHAOS_TEST_SIZES: ChaosSizes = { plain: 1000, duplicated: 100, scheduledSoon: 200, scheduledLater: 60, batches: 40, jobsPerBatch: 10, unique: 100, limited: 150 };

/** `sizes` times `factor` (batches keep their size; there are more of them). */
export function scaledSizes(sizes: ChaosSizes, factor: number): ChaosSizes {
  const scaled = (count: number) => Math.round(count * factor);
  return {
    plain: scaled(sizes.plain),
    duplicated: scaled(sizes.duplicated),
    scheduledSoon: scaled(sizes.scheduledSoon),
    scheduledLater: scaled(sizes.scheduledLater),
    batches: scaled(sizes.batches),
    jobsPerBatch: sizes.jobsPerBatch,
    unique: scaled(sizes.unique),
    limited: scaled(sizes.limited),
  };
}

/** A job to enqueue and what it should end as. */
export interface ChaosJob extends PlannedJob {
  readonly input: JobInput & { readonly jid: string };
}

/** A batch to create: its jobs and the callbacks it must fire. */
export interface ChaosBatch extends PlannedBatch {
  readonly jobs: readonly ChaosJob[];
  /** The queue of its callback jobs. */
  readonly callbackQueue: string;
}

/**
 * The queues of each worker language. With the Python worker in the mix, every other job (and every
 * other batch, with its callbacks) goes to the Python worker's queues, the others to the TypeScript
 * worker's; without it, all go to the TypeScript worker's.
 */
export const CHAOS_QUEUES = {
  ts: { chaos: 'chaos', limited: 'limited', callbacks: 'callbacks' },
  py: { chaos: 'pychaos', limited: 'pylimited', callbacks: 'pycallbacks' },
} as const;

/** The whole plan. */
export interface ChaosPlan {
  readonly jobs: readonly ChaosJob[];
  readonly batches: readonly ChaosBatch[];
}

type Steps = readonly string[];

/** Attempt plans of jobs that succeed in the end, by weight. */
const SUCCEEDING: readonly (readonly [number, Steps])[] = [
  [82, ['ok']],
  [10, ['throw', 'ok']],
  [2.5, ['crash', 'ok']],
  [0.5, ['hang', 'ok']],
];
/** Attempt plans of jobs that end dead, by weight. */
const DYING: readonly (readonly [number, Steps])[] = [
  [3, ['fatal']],
  [2, ['throw']],
];
/** Retries of a job that should succeed: enough for its own failure and a neighbour's crash or two. */
const SUCCEEDING_RETRY = 4;
/** Retries of a job that should die: one retry, then the dead set. */
const DYING_RETRY = 1;

function pick(random: () => number, table: readonly (readonly [number, Steps])[]): Steps {
  const total = table.reduce((sum, [weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [weight, steps] of table) {
    roll -= weight;
    if (roll < 0) return steps;
  }
  return table[table.length - 1]?.[1] ?? ['ok'];
}

/** Builds the plan for `sizes` from `seed`, with half of it for the Python worker when `python`. */
export function chaosPlan(sizes: ChaosSizes, seed: number, runId: string, python = false): ChaosPlan {
  const random = mulberry32(seed);
  let next = 0;
  const job = (kind: string, options: { queue?: 'chaos' | 'limited'; steps?: Steps; mayDie?: boolean; language?: 'ts' | 'py' } = {}): ChaosJob => {
    next += 1;
    const queues = CHAOS_QUEUES[python ? options.language ?? (next % 2 === 0 ? 'py' : 'ts') : 'ts'];
    const steps = options.steps ?? pick(random, options.mayDie === false ? SUCCEEDING : [...SUCCEEDING, ...DYING]);
    const expected: Expected = steps[steps.length - 1] === 'ok' || steps[steps.length - 1] === 'limited' ? 'succeeded' : 'dead';
    const jid = `${runId}-${kind}-${next}`;
    return {
      jid,
      kind,
      expected,
      input: { jid, jobtype: 'Chaos', args: [steps, next], queue: queues[options.queue ?? 'chaos'], retry: expected === 'dead' ? DYING_RETRY : SUCCEEDING_RETRY },
    };
  };
  const jobs: ChaosJob[] = [];
  for (let i = 0; i < sizes.plain; i += 1) jobs.push(job('plain'));
  for (let i = 0; i < sizes.duplicated; i += 1) jobs.push(job('duplicated'));
  for (let i = 0; i < sizes.scheduledSoon; i += 1) jobs.push(job('scheduled-soon'));
  for (let i = 0; i < sizes.scheduledLater; i += 1) jobs.push(job('scheduled-later'));
  // A unique job that fails holds its lock until it succeeds or dies; only succeeding plans here.
  for (let i = 0; i < sizes.unique; i += 1) jobs.push(job('unique', { mayDie: false }));
  for (let i = 0; i < sizes.limited; i += 1) jobs.push(job('limited', { queue: 'limited', steps: random() < 0.1 ? ['crash', 'limited'] : ['limited'] }));

  const batches: ChaosBatch[] = Array.from({ length: sizes.batches }, (_, index) => {
    // A third of the batches may lose a job to the dead set; the others only recover.
    const mayDie = index % 3 === 0;
    const language = python && index % 2 === 1 ? 'py' : 'ts';
    const members = Array.from({ length: sizes.jobsPerBatch }, () => job('batch', { mayDie, language }));
    const dies = members.some((member) => member.expected === 'dead');
    return { bid: `${runId}-batch-${index + 1}`, jobs: members, callbackQueue: CHAOS_QUEUES[language].callbacks, events: dies ? ['complete', 'death'] : ['complete', 'success'] };
  });
  return { jobs: [...jobs, ...batches.flatMap((batch) => batch.jobs)], batches };
}
