/**
 * The flow checks of the chaos suite. Pure: the run reads each flow as it ended (`getFlow`), its
 * steps' batch counters, the dead set and the worker's sink; this module judges them against the
 * plan (./flow-plan.ts):
 *
 * - each flow settled as planned (succeeded, or failed at its dying step);
 * - each step that should run started exactly once (attempt 1, and no job of a second attempt ran),
 *   its job succeeded (or, the dying step, is dead), and everything it spawned ran; its batch
 *   counted its job and every spawned job exactly once;
 * - a step that should not run (a descendant of a step that died on `fail` edges) is cancelled
 *   and none of its jobs ever started;
 * - order: the first start of a step's job comes after the first success of every job of each
 *   parent that succeeded (the parent's own job and every job it spawned), by the sink's line order
 *   (one file appended to by every worker, so no clock is compared).
 *
 * The flow callbacks (each exactly once) are judged with the batch callbacks by ./invariants.ts.
 */
import type { BatchCounts } from './invariants.js';
import type { ChaosFlow } from './flow-plan.js';

/** A flow as the run read it at the end. */
export interface FlowEnd {
  readonly status: string;
  readonly settled: boolean;
  readonly failedStep?: string;
  readonly steps: readonly { readonly name: string; readonly status: string; readonly attempt: number }[];
}

/** A sink line as the flow checks read it: a job's start, a job's success, or a callback. */
export type FlowSinkLine =
  | { readonly jid: string; readonly start: number }
  | { readonly jid: string; readonly step: string; readonly bid?: unknown }
  | { readonly jid: string; readonly callback: unknown };

/** What the run found about its flows. */
export interface FlowObserved {
  /** The sink's lines, in the order they were written. */
  readonly sink: readonly FlowSinkLine[];
  readonly flows: ReadonlyMap<string, FlowEnd>;
  /** The counters of each step's batch, by bid. */
  readonly batchCounts: ReadonlyMap<string, BatchCounts>;
  readonly deadJids: ReadonlySet<string>;
}

/** The verdict on the flows. */
export interface FlowReport {
  readonly flows: number;
  readonly steps: number;
  /** Steps whose job succeeded, and jobs they spawned that ran. */
  readonly stepsRun: number;
  readonly spawnedRun: number;
  readonly cancelled: number;
  /** Runs of a step's job beyond its first (at-least-once delivery allows them; its batch counts one). */
  readonly stepDuplicateRuns: number;
  /** Each broken rule, with the flow and step it was found in. */
  readonly violations: readonly string[];
}

/** Judges the flows of a run; see the module comment. */
export function checkFlows(planned: readonly ChaosFlow[], observed: FlowObserved): FlowReport {
  const firstStart = new Map<string, number>();
  const firstSuccess = new Map<string, number>();
  const successes = new Map<string, number>();
  const byBid = new Map<string, Set<string>>();
  observed.sink.forEach((line, index) => {
    if ('start' in line) {
      if (!firstStart.has(line.jid)) firstStart.set(line.jid, index);
    } else if ('step' in line) {
      if (!firstSuccess.has(line.jid)) firstSuccess.set(line.jid, index);
      successes.set(line.jid, (successes.get(line.jid) ?? 0) + 1);
      if (typeof line.bid === 'string') byBid.set(line.bid, (byBid.get(line.bid) ?? new Set()).add(line.jid));
    }
  });
  const violations: string[] = [];
  let steps = 0;
  let stepsRun = 0;
  let spawnedRun = 0;
  let cancelled = 0;
  let stepDuplicateRuns = 0;
  for (const flow of planned) {
    steps += flow.steps.length;
    const end = observed.flows.get(flow.id);
    if (end === undefined) {
      violations.push(`${flow.id}: not found`);
      continue;
    }
    if (!end.settled || end.status !== flow.expected) violations.push(`${flow.id}: ${end.status}${end.settled ? '' : ' (not settled)'}, expected ${flow.expected}`);
    const failedStep = flow.dying?.policy === 'fail' ? flow.dying.step : undefined;
    if (end.failedStep !== failedStep) violations.push(`${flow.id}: failed step ${String(end.failedStep)}, expected ${String(failedStep)}`);
    const mustNotRun = failedStep === undefined ? new Set<string>() : descendants(flow, failedStep);
    const ended = new Map(end.steps.map((step) => [step.name, step]));
    for (const step of flow.steps) {
      const where = `${flow.id}.${step.name}`;
      const state = ended.get(step.name);
      const jid = `${flow.id}.${step.name}.1`;
      if (firstStart.has(`${flow.id}.${step.name}.2`)) violations.push(`${where}: a second attempt ran`);
      if (state?.status === 'cancelled' && !mustNotRun.has(step.name) && failedStep === undefined) violations.push(`${where}: cancelled in a flow that did not fail`);
      if (state?.status === 'cancelled' || mustNotRun.has(step.name)) {
        if (state?.status !== 'cancelled') violations.push(`${where}: ${String(state?.status)}, expected cancelled`);
        if (firstStart.has(jid) || successes.has(jid)) violations.push(`${where}: cancelled, yet its job started`);
        cancelled += 1;
        continue;
      }
      const dies = flow.dying?.step === step.name;
      const expected = dies ? 'failed' : 'succeeded';
      if (state?.status !== expected || state.attempt !== 1) violations.push(`${where}: ${String(state?.status)} at attempt ${String(state?.attempt)}, expected ${expected} at attempt 1`);
      if (!firstStart.has(jid)) violations.push(`${where}: its job never started`);
      if (dies) {
        if (!observed.deadJids.has(jid) || successes.has(jid)) violations.push(`${where}: its job should be dead, not succeeded`);
      } else {
        const spawned = [...(byBid.get(jid) ?? [])].filter((other) => other !== jid);
        const runs = successes.get(jid) ?? 0;
        if (runs === 0) violations.push(`${where}: its job never succeeded`);
        stepDuplicateRuns += Math.max(0, runs - 1);
        if (spawned.length !== step.spawn.length) violations.push(`${where}: ${spawned.length} spawned jobs ran, expected ${step.spawn.length}`);
        stepsRun += runs > 0 ? 1 : 0;
        spawnedRun += spawned.length;
      }
      const counts = observed.batchCounts.get(jid);
      const jobs = 1 + (dies ? 0 : step.spawn.length);
      const deadJobs = dies ? 1 : 0;
      const want: BatchCounts = { total: jobs, pending: 0, succeeded: jobs - deadJobs, failures: deadJobs, dead: deadJobs };
      if (counts === undefined || (Object.keys(want) as (keyof BatchCounts)[]).some((counter) => counts[counter] !== want[counter])) {
        violations.push(`${where}: batch counted ${JSON.stringify(counts ?? null)}, expected ${JSON.stringify(want)}`);
      }
      const started = firstStart.get(jid);
      for (const parent of step.parents) {
        if (ended.get(parent)?.status !== 'succeeded') continue;
        const parentBid = `${flow.id}.${parent}.1`;
        for (const parentJob of new Set([parentBid, ...(byBid.get(parentBid) ?? [])])) {
          const done = firstSuccess.get(parentJob);
          if (started !== undefined && (done === undefined || done > started)) violations.push(`${where}: started before ${parentJob} (of its parent ${parent}) succeeded`);
        }
      }
    }
  }
  return { flows: planned.length, steps, stepsRun, spawnedRun, cancelled, stepDuplicateRuns, violations };
}

/** The steps that depend on `step`, directly or not. */
function descendants(flow: ChaosFlow, step: string): Set<string> {
  const found = new Set<string>();
  let frontier = [step];
  while (frontier.length > 0) {
    const next = flow.steps.filter((other) => !found.has(other.name) && other.parents.some((parent) => frontier.includes(parent))).map((other) => other.name);
    for (const name of next) found.add(name);
    frontier = next;
  }
  return found;
}
