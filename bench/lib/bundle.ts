/** Bundles an entry the way the construct bundles a function (HOPPER_BUNDLING, Node 24 target). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { HOPPER_BUNDLING } from '../../infra/hopper-function';

/**
 * Writes `outDir/index.mjs`: minified ESM with class names kept and the AWS SDK external, as
 * `HopperFunction` bundles. `outDir` must be inside the project, so that the SDK resolves.
 *
 * @returns the bundle's path
 */
export async function bundleLikeConstruct(entry: string, outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'index.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    minify: HOPPER_BUNDLING.minify ?? false,
    keepNames: HOPPER_BUNDLING.keepNames ?? false,
    sourcemap: HOPPER_BUNDLING.sourceMap ?? false,
    external: [...(HOPPER_BUNDLING.externalModules ?? [])],
    mainFields: [...(HOPPER_BUNDLING.mainFields ?? [])],
    banner: { js: HOPPER_BUNDLING.banner ?? '' },
    logLevel: 'warning',
  });
  return outfile;
}
