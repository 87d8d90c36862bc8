import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Two projects: `node` runs every test; `worker` runs the API tests (test/api) again against the
 * Worker bundle inside workerd. The same test files, two runtimes.
 */
export default defineConfig({
  test: {
    // Two files at a time, also on a 2-core machine (vitest's default there is one): a file spends
    // most of its time waiting on workerd, its libSQL servers and real sockets, not on a core, so
    // one at a time left the machine half idle (the suite took ~17 min on CI's 2 cores).
    maxWorkers: Math.max(2, availableParallelism() - 1),
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
