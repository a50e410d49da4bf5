/**
 * `npm run build` (also `prepack`): builds the package into dist/ — Hopper's functions pre-bundled,
 * the local runtime's function runner, and the library as ES modules and CommonJS with declarations.
 * Parts whose inputs did not change since their last build are skipped.
 *
 * Usage: tsx scripts/build.ts [--assets] [--force]
 *   --assets  only the function bundles and the runner (what the tests and `npm run dev` run)
 *   --force   rebuild even what is up to date
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildAssets } from './build/assets.js';
import { buildLibrary } from './build/library.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const { values } = parseArgs({ options: { assets: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } } });
const started = performance.now();
const parts: string[] = [];
if (await buildAssets(ROOT, { force: values.force })) parts.push('functions and runner');
if (!values.assets && await buildLibrary(ROOT, { force: values.force })) parts.push('library (esm, cjs, declarations)');
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stderr.write(parts.length === 0 ? 'build: up to date\n' : `build: ${parts.join(', ')} in ${seconds} s\n`);
