import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The SDK is pinned; its notice that future releases need Node 22 only clutters test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // CI reads the closing `tests: N passed, N failed` line; the default reporter stays for people.
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          environment: 'node',
          // One synthesis per file, bundling every handler with esbuild: seconds, more on a busy machine.
          hookTimeout: 180_000,
          // The shipped bundles are run once against DynamoDB Local, as Lambda would run them.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // One DynamoDB Local for the run; each test file gets its own table and gateway.
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // Two cores: files in parallel would only fight over DynamoDB Local.
          fileParallelism: false,
        },
      },
    ],
  },
});
