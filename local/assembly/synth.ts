/**
 * Synthesizes a CDK app into a cloud assembly with the project's pinned CDK CLI (never a global
 * one), offline and without the CLI's version check.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HopperError } from '../../lib/errors/base.js';
import { SynthError } from '../../lib/errors/local.js';

/** Options of {@link synthesize}. */
export interface SynthOptions {
  /** Directory with the app's `cdk.json` (the CLI runs there). */
  readonly projectDir: string;
  /** Directory to write the cloud assembly to. */
  readonly outDir: string;
  /** The app command. @default - the `app` of cdk.json */
  readonly app?: string;
  /** Synthesize (and bundle assets of) only this stack. @default - every stack */
  readonly stack?: string;
  /** Extra context values (`-c key=value`). @default - none */
  readonly context?: Readonly<Record<string, string>>;
}

export { SynthError } from '../../lib/errors/local.js';

/** Path of the CDK CLI entry point the project pins (`aws-cdk`), else the one Hopper ships with. */
export function cdkCliPath(projectDir: string): string {
  for (const base of [join(projectDir, 'package.json'), import.meta.url]) {
    try {
      const packageJson = createRequire(base).resolve('aws-cdk/package.json');
      const bin = join(dirname(packageJson), 'bin', 'cdk');
      if (existsSync(bin)) return bin;
    } catch {
      // not installed here; try the next place
    }
  }
  throw new HopperError('the CDK CLI (npm package aws-cdk) is not installed; add it with npm install --save-dev --save-exact aws-cdk');
}

/**
 * Runs `cdk synth --quiet --output <outDir>` in the project directory.
 *
 * @throws SynthError with the CLI's output when synthesis fails.
 */
export async function synthesize(options: SynthOptions): Promise<void> {
  const args = [cdkCliPath(options.projectDir), 'synth', '--quiet', '--output', options.outDir];
  if (options.app !== undefined) args.push('--app', options.app);
  for (const [key, value] of Object.entries(options.context ?? {})) args.push('--context', `${key}=${value}`);
  // Naming the stack makes the CLI bundle only that stack's assets (aws:cdk:bundling-stacks).
  if (options.stack !== undefined) args.push(options.stack);
  const child = spawn(process.execPath, args, {
    cwd: options.projectDir,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_CLI_TELEMETRY: 'false', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new SynthError(`cdk synth failed (exit code ${String(code)}) in ${options.projectDir}`, output.trim());
}
