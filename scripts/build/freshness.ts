/**
 * Whether a part of the build is up to date: a stamp file lists the inputs the last build of that
 * part read (relative to the package root) and the outputs it made; the part is fresh when the
 * stamp is newer than every input and every output exists. A new source file only enters a build
 * through an import in a file already listed, whose change makes the part stale.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What a stamp records. */
export interface Stamp {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

function isStamp(value: unknown): value is Stamp {
  if (typeof value !== 'object' || value === null) return false;
  const inputs: unknown = Reflect.get(value, 'inputs');
  const outputs: unknown = Reflect.get(value, 'outputs');
  return Array.isArray(inputs) && inputs.every((item) => typeof item === 'string')
    && Array.isArray(outputs) && outputs.every((item) => typeof item === 'string');
}

/** Whether the part stamped in `stampFile` needs no rebuild. */
export function isFresh(root: string, stampFile: string): boolean {
  if (!existsSync(stampFile)) return false;
  let stamp: unknown;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return false;
  }
  if (!isStamp(stamp)) return false;
  const builtAt = statSync(stampFile).mtimeMs;
  return stamp.outputs.every((output) => existsSync(join(root, output)))
    && stamp.inputs.every((input) => existsSync(join(root, input)) && statSync(join(root, input)).mtimeMs <= builtAt);
}

/** Records a finished build of a part (written last, so an interrupted build stays stale). */
export function writeStamp(stampFile: string, stamp: Stamp): void {
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, `${JSON.stringify({ inputs: [...new Set(stamp.inputs)].sort(), outputs: stamp.outputs }, null, 2)}\n`);
}

/** Every file under `dir`, relative to `root`. */
export function filesUnder(root: string, dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(root, path));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/** The files of the build itself: a change to how it builds makes every part stale. */
export function buildScriptInputs(root: string): string[] {
  return ['package.json', 'scripts/build.ts', ...filesUnder(root, 'scripts/build')];
}
