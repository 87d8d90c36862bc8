import { defineConfig } from 'vitest/config';

/**
 * Two projects: `node` runs every test; `worker` runs the API tests (test/api) again against the
 * Worker bundle inside workerd. The same test files, two runtimes.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'infra/**/*.test.ts', 'plugins/**/*.test.ts'],
          env: { MYCELIUM_TEST_RUNTIME: 'node' },
          globalSetup: ['test/support/gen-dashboard.setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'worker',
          include: ['test/api/**/*.test.ts', 'plugins/**/*.api.test.ts'],
          env: { MYCELIUM_TEST_RUNTIME: 'worker' },
          globalSetup: ['test/support/build-worker.setup.ts'],
        },
      },
    ],
  },
});
