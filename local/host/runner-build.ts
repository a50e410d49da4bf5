/**
 * Builds the function-instance entry point (runner.ts) into one plain JavaScript file that any
 * Node.js can run without a TypeScript loader, so instances start as fast as Lambda's runtime.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, stop } from 'esbuild';

let built: string | undefined;

/** Path of the built runner (built once per process, cached by content in the temp directory). */
export async function runnerPath(): Promise<string> {
  if (built !== undefined) return built;
  const entry = fileURLToPath(new URL('./runner.ts', import.meta.url));
  const result = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, logLevel: 'silent' });
  // esbuild keeps a service process for later builds; there are none, and it must not outlive the runtime.
  await stop();
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild produced no output for the function runner');
  const hash = createHash('sha256').update(output.contents).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'hopper-local');
  const path = join(dir, `runner-${hash}.mjs`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    // Write then rename, so that a runtime starting at the same time never reads half a file.
    const partial = `${path}.${process.pid}.tmp`;
    writeFileSync(partial, output.contents);
    renameSync(partial, path);
  }
  built = path;
  return path;
}
