/**
 * Where Hopper's own function entry points are, and how to pin their bundles to Hopper's lock
 * file, resolved from this module's URL so that synth does not depend on the working directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCK_FILE = join(PACKAGE_ROOT, 'package-lock.json');

/** Hopper's functions, by name of their entry file in functions/. */
export const HOPPER_FUNCTIONS = {
  retry: 'retry.ts',
  scheduler: 'scheduler.ts',
  cron: 'cron.ts',
  batch: 'batch.ts',
  api: 'api.ts',
} as const;

/** The absolute path of one of Hopper's function entry points. */
export function hopperEntry(name: keyof typeof HOPPER_FUNCTIONS): string {
  return join(PACKAGE_ROOT, 'functions', HOPPER_FUNCTIONS[name]);
}

/** Bundling props that pin a Hopper function to Hopper's lock file, when there is one. */
export function pinnedToHopperPackage(): { projectRoot?: string; depsLockFilePath?: string } {
  return existsSync(LOCK_FILE) ? { projectRoot: PACKAGE_ROOT, depsLockFilePath: LOCK_FILE } : {};
}
