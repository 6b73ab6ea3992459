import { configDefaults, defineConfig } from 'vitest/config';

// `npm test` (vitest run) runs the projects `default` and `browser`. The Docker suite
// (`*.docker.test.ts`: MinIO via testcontainers) is left out here and runs only through
// vitest.docker.config.ts (`npm run test:docker`), so a machine without a Docker engine reports
// that suite as not run instead of passing it.
export const DOCKER_TESTS = 'tests/**/*.docker.test.ts';

export default defineConfig({
  test: {
    // Each test file gets its own data folder and port, so files run in parallel safely.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['tests/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'tests/e2e/**', DOCKER_TESTS],
        },
      },
      {
        // Browser tests wait on events (navigation, responses, selector states); their budgets
        // are ceilings for a busy 2-core machine, not estimates of an idle one. One step's
        // ceiling is STEP_TIMEOUT_MS in tests/helpers/browser.ts.
        extends: true,
        test: {
          name: 'browser',
          include: ['tests/e2e/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          expect: { poll: { timeout: 120_000 } },
        },
      },
    ],
  },
});
