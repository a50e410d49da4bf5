/**
 * The previous synth, reused when nothing it depends on has changed: `cdk synth` is most of the
 * time `hopper dev` takes to start. The key hashes what a synth reads: every file of the project
 * (contents, not times) except `node_modules`, `.git`, `.hopper` and `cdk.out*`; the lockfile, which
 * stands for `node_modules`; the app command, stack and context; the environment variables a CDK app
 * commonly reads (`CDK_*`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `HOPPER_*`); and Node's version.
 * What is outside (a linked package's sources, a file elsewhere the app reads) is not seen: turn the
 * cache off then (`HOPPER_SYNTH_CACHE=off`).
 *
 * Entries live in `<project>/.hopper/synth-cache/<key>/`, written to a temporary name and renamed
 * (runtimes started side by side never see half an entry); the most recently used few are kept.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Entries kept; older ones are removed when a new one is stored. */
export const SYNTH_CACHE_ENTRIES = 6;

/** The variable that turns the cache off (`off`). */
export const SYNTH_CACHE_ENV = 'HOPPER_SYNTH_CACHE';

/** Directories never hashed: installed packages (the lockfile stands for them), history, Hopper's own output. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.hopper']);
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml'];
const ENV_PREFIXES = ['CDK_', 'HOPPER_'];
const ENV_NAMES = new Set(['AWS_REGION', 'AWS_DEFAULT_REGION']);

/** What a synth is asked for. */
export interface SynthRequest {
  readonly projectDir: string;
  readonly app?: string;
  readonly stack?: string;
  readonly context?: Readonly<Record<string, string>>;
}

/** Whether the cache is on in `env` (anything but `HOPPER_SYNTH_CACHE=off`). */
export function synthCacheEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return env[SYNTH_CACHE_ENV] !== 'off';
}

/** The key of a synth: a SHA-256 of everything listed in the module comment. */
export function synthKey(request: SynthRequest, env: Readonly<Record<string, string | undefined>>): string {
  const hash = createHash('sha256');
  const add = (label: string, value: string | Buffer) => {
    hash.update(`${label}\0${value.length}\0`);
    hash.update(value);
  };
  add('node', process.version);
  add('request', JSON.stringify({ app: request.app ?? null, stack: request.stack ?? null, context: Object.entries(request.context ?? {}).sort() }));
  const variables = Object.entries(env)
    .filter(([name]) => ENV_NAMES.has(name) || ENV_PREFIXES.some((prefix) => name.startsWith(prefix)))
    .filter(([name]) => name !== SYNTH_CACHE_ENV)
    .sort(([a], [b]) => a.localeCompare(b));
  add('env', JSON.stringify(variables));
  for (const file of projectFiles(request.projectDir)) {
    const contents = readIfPresent(file);
    // A file removed since the listing (a test's scratch file) is left out of the key.
    if (contents !== undefined) add(relative(request.projectDir, file), contents);
  }
  return hash.digest('hex').slice(0, 32);
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    if (error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'EISDIR')) return undefined;
    throw error;
  }
}

/** Every file of the project that the key covers, in a stable order. */
function projectFiles(projectDir: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    let listed;
    try {
      listed = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      // A directory removed since its parent was listed.
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return;
      throw error;
    }
    const entries = listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('cdk.out')) walk(path);
      } else if (entry.isFile()) files.push(path);
    }
  };
  walk(projectDir);
  // Lockfiles are files of the project already; a lockfile above it (a workspace) counts too.
  for (const name of LOCKFILES) {
    const above = join(projectDir, '..', name);
    if (existsSync(above)) files.push(above);
  }
  return files;
}

/**
 * Copies the entry `key` of `cacheDir` into `outDir`.
 * @returns false when there is no such entry
 */
export function restoreSynth(cacheDir: string, key: string, outDir: string): boolean {
  const entry = join(cacheDir, key);
  if (!existsSync(join(entry, 'manifest.json'))) return false;
  try {
    cpSync(entry, outDir, { recursive: true });
    const now = new Date();
    utimesSync(entry, now, now);
    return true;
  } catch {
    // Removed by another runtime meanwhile: synthesize instead.
    return false;
  }
}

/** Stores the assembly in `fromDir` as entry `key` of `cacheDir`, and removes the oldest entries past {@link SYNTH_CACHE_ENTRIES}. */
export function storeSynth(cacheDir: string, key: string, fromDir: string): void {
  mkdirSync(cacheDir, { recursive: true });
  const entry = join(cacheDir, key);
  if (existsSync(entry)) return;
  const temporary = join(cacheDir, `.${key}-${process.pid}`);
  cpSync(fromDir, temporary, { recursive: true });
  try {
    renameSync(temporary, entry);
  } catch {
    // Another runtime stored the same entry first.
    rmSync(temporary, { recursive: true, force: true });
  }
  const entries = readdirSync(cacheDir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => ({ name, usedMs: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.usedMs - a.usedMs);
  for (const old of entries.slice(SYNTH_CACHE_ENTRIES)) rmSync(join(cacheDir, old.name), { recursive: true, force: true });
}
