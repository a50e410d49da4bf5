/** Bundles an entry the way the construct bundles a function (HOPPER_BUNDLING, Node 24 target). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { HOPPER_BUNDLING } from '../../infra/hopper-function.js';

/** A bundle and the packages it imports at load time (dynamic imports left out). */
export interface Bundle {
  readonly file: string;
  readonly externals: readonly string[];
}

/**
 * Writes `outDir/index.mjs`: minified ESM with class names kept and the AWS SDK external, as
 * `HopperFunction` bundles. `outDir` must be inside the project, so that the SDK resolves.
 */
export async function bundleLikeConstruct(entry: string, outDir: string): Promise<Bundle> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'index.mjs');
  const { metafile } = await build({
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
    metafile: true,
    logLevel: 'warning',
  });
  const imports = Object.values(metafile.outputs).flatMap((output) => output.imports);
  const externals = imports.filter((entry) => entry.external === true && entry.kind === 'import-statement' && !entry.path.startsWith('node:')).map((entry) => entry.path);
  return { file: outfile, externals: [...new Set(externals)] };
}
