import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Hopper's functions and the local runner run from their prebuilt bundles, as in the package.
    globalSetup: ['test/global-setup.ts'],
    // Integration suites start emulators (a JVM for DynamoDB Local) and CDK suites synthesize
    // whole apps: both are slow on a 2-core machine, so timeouts are generous.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two files at a time: most integration files wait on the local runtime's clocks rather than
    // compute, and no test bounds wall time tightly any more (they check what was decided, and
    // bound deliveries loosely). See docs/decisions.md ("Tests run two files at a time").
    maxWorkers: 2,
    // The AWS SDK warns once per process about Node 20; the warning says nothing about the tests.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      // The chaos suite loads the machine on its own (about 2,000 jobs under injected faults): it
      // runs first, alone, before any other file has loaded the machine. (A groupOrder of 0 with one
      // worker would put the suite's files in a group of their own run after the numbered ones.)
      { extends: true, test: { name: 'chaos', include: ['test/chaos/**/*.test.ts'], sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/chaos/**'], sequence: { groupOrder: 2 } } },
    ],
  },
});
