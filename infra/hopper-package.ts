/**
 * Hopper's own functions ship pre-bundled in the package, as aws-cdk-lib ships its custom-resource
 * handlers: `npm run build` bundles each entry point of functions/ with {@link HOPPER_ESBUILD} into
 * `dist/functions/<name>/index.mjs`, and the constructs deploy that folder as it is. A team needs
 * neither esbuild nor Docker for them, and what the tests run is what ships.
 *
 * This module imports no CDK code: the build script uses it too.
 */
import { dirname, join, resolve } from 'node:path';
import { BUILT_FILES, builtFile, packageRoot } from '../lib/common/package-files.js';

/** Hopper's functions, by name of their entry file in functions/. */
export const HOPPER_FUNCTIONS = {
  retry: 'retry.ts',
  scheduler: 'scheduler.ts',
  cron: 'cron.ts',
  batch: 'batch.ts',
  api: 'api.ts',
  config: 'config.ts',
  governor: 'governor.ts',
} as const;

/** The name of one of Hopper's own functions. */
export type HopperFunctionName = keyof typeof HOPPER_FUNCTIONS;

/** The file of a prebuilt function bundle in its folder; its handler is `index.handler`. */
export const PREBUILT_FILE = 'index.mjs';

/**
 * How Hopper's code is bundled for Lambda, as esbuild options (one place for the prebuilt functions,
 * `HOPPER_BUNDLING` of workers and the benchmarks): an ES module (smaller, faster cold starts,
 * top-level await) for the newest Node.js runtime, minified with a source map but with class names
 * kept, the AWS SDK v3 left to the Lambda runtime, and a `require` defined for the CommonJS code
 * esbuild inlines into the module.
 */
export const HOPPER_ESBUILD = {
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  // Errors are recognised by name across bundles (lib/errors/base.ts) and stored as `errtype`:
  // minification must not rename classes.
  keepNames: true,
  sourcemap: true,
  external: ['@aws-sdk/*'],
  mainFields: ['module', 'main'],
  banner: "import { createRequire as __hopperCreateRequire } from 'node:module'; const require = __hopperCreateRequire(import.meta.url);",
} as const;

/** The source entry point of one of Hopper's functions (in this repository; not in the package). */
export function hopperSource(name: HopperFunctionName): string {
  return join(packageRoot(), 'functions', HOPPER_FUNCTIONS[name]);
}

/**
 * The prebuilt bundle of one of Hopper's functions, as the `entry` of a `HopperFunction`, which
 * deploys its folder as it is instead of bundling it.
 *
 * @throws HopperError when the package was not built.
 */
export function hopperEntry(name: HopperFunctionName): string {
  return builtFile(join(BUILT_FILES.functionsDir, name, PREBUILT_FILE));
}

/** The folder to deploy when `entry` is one of Hopper's prebuilt bundles, else undefined. */
export function prebuiltAssetDir(entry: string): string | undefined {
  const file = resolve(entry);
  const functionsDir = join(packageRoot(), BUILT_FILES.functionsDir);
  const isPrebuilt = Object.keys(HOPPER_FUNCTIONS).some((name) => file === join(functionsDir, name, PREBUILT_FILE));
  return isPrebuilt ? dirname(file) : undefined;
}

/**
 * Bundling props of Hopper's functions beyond `HopperFunction`'s: none, since they are prebuilt
 * (kept for the callers that spread it; nothing to pin a bundle to any more).
 */
export function pinnedToHopperPackage(): Record<string, never> {
  return {};
}
