import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Hopper's functions and the local runner run from their prebuilt bundles, as in the package.
    globalSetup: ['test/global-setup.ts'],
    // Integration suites start emulators (a JVM for DynamoDB Local) and CDK suites synthesize
    // whole apps: both are slow on a 2-core machine, so timeouts are generous.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // The AWS SDK warns once per process about Node 20; the warning says nothing about the tests.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
