/**
 * Vitest's global setup: builds Hopper's function bundles and the local runner when their sources
 * changed (`npm run build:assets`), so that every test synthesizes and runs the prebuilt code the
 * package ships, whichever test files run.
 */
import { fileURLToPath } from 'node:url';
import { buildAssets } from '../scripts/build/assets.js';

export default async function setup(): Promise<void> {
  await buildAssets(fileURLToPath(new URL('..', import.meta.url)));
}
