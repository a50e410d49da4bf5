/** What every benchmark records about the run: the commit and the machine. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** The short commit hash of the working tree, or `unknown` outside git. */
export function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Platform, CPU model, cores and memory of this machine. */
export function machine(): { platform: string; arch: string; cpu: string; cores: number; memoryGiB: number } {
  return { platform: process.platform, arch: process.arch, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) };
}
