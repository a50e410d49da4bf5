/**
 * `hopper-jobs/local`: the local runtime for a team's own tests. `startLocal()` synthesizes the CDK
 * app (or takes a synthesized one), starts the emulators and runs the template's functions.
 */
export { startLocal } from './runtime.js';
export type { StartLocalOptions, LocalEndpoints, LocalFunction, LocalMapping, LocalQueue, LocalRuntime, LocalTable, MappingSelector } from './runtime.js';
