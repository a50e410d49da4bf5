/** What every result is recorded with: machine, Node version, commit and date. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export interface RunMeta {
  readonly date: string;
  readonly commit: string;
  /** Whether the working tree had changes not in `commit` (earlier results aside). */
  readonly dirty: boolean;
  readonly node: string;
  readonly machine: { readonly platform: string; readonly arch: string; readonly cpu: string; readonly cores: number; readonly memoryGiB: number };
}

function git(args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The metadata of a run starting now. */
export function runMeta(now = new Date()): RunMeta {
  return {
    date: now.toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    dirty: (git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results']) ?? '') !== '',
    node: process.version,
    machine: { platform: process.platform, arch: process.arch, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  };
}
