import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// `npm test` (vitest run) runs the projects `default` and `browser`. The Docker suite
// (`*.docker.test.ts`: MinIO via testcontainers) is left out here and runs only through
// vitest.docker.config.ts (`npm run test:docker`), so a machine without a Docker engine reports
// that suite as not run instead of passing it.
export const DOCKER_TESTS = 'tests/**/*.docker.test.ts';

// The database suites that also run on PostgreSQL in every `npm test` (project `postgres`, a real
// server started by the tests: tests/helpers/postgres-global-setup.ts): migrations, catalog
// search, jobs and their fencing, tenancy isolation, the API, housekeeping, SAML replay records,
// PSA company mappings and the portal's subtree health counters, about a minute on 2 cores.
// `HOLDFAST_TEST_DB=postgres npx vitest run --project default` (`npm run test:postgres`) runs
// every suite on PostgreSQL (tests/README.md).
// `*.postgres.test.ts` files test PostgreSQL only and run only there.
export const POSTGRES_ONLY_TESTS = 'tests/**/*.postgres.test.ts';
export const POSTGRES_TESTS = [
  POSTGRES_ONLY_TESTS,
  'tests/integration/db/catalog-search.test.ts',
  'tests/integration/storage/catalog-browse.test.ts',
  'tests/integration/jobs/queue.test.ts',
  'tests/integration/jobs/fencing.test.ts',
  'tests/integration/identity/isolation.test.ts',
  'tests/integration/api/isolation.test.ts',
  'tests/integration/api/endpoints.test.ts',
  'tests/integration/maintenance.test.ts',
  'tests/integration/identity/saml-flow.test.ts',
  // Name filters compared with LIKE were case-sensitive on PostgreSQL only.
  'tests/integration/integrations/psa-api.test.ts',
  'tests/integration/db/subtree-health.test.ts',
];
const POSTGRES_SETUP = 'tests/helpers/postgres-global-setup.ts';
// Tests of SQLite itself, left out when HOLDFAST_TEST_DB=postgres runs every suite there: its
// driver's bound statements, its migrations' upgrade path (PostgreSQL's: migrations.postgres.test.ts),
// the database file's modes and WAL.
export const SQLITE_ONLY_TESTS = [
  'tests/integration/db/bound-parameters.test.ts',
  'tests/integration/migrations.test.ts',
  'tests/integration/file-modes.test.ts',
];
const ON_POSTGRES = process.env.HOLDFAST_TEST_DB === 'postgres';

export default defineConfig({
  test: {
    // Each test file gets its own data folder and port, so files run in parallel safely.
    pool: 'forks',
    // vitest's default is one worker less than the cores: one file at a time on the 2-core CI
    // machines, though most files wait on child processes, browsers and loopback servers.
    maxWorkers: Math.max(2, availableParallelism()),
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
          exclude: [
            ...configDefaults.exclude,
            'tests/e2e/**',
            DOCKER_TESTS,
            POSTGRES_ONLY_TESTS,
            ...(ON_POSTGRES ? SQLITE_ONLY_TESTS : []),
          ],
          globalSetup: [POSTGRES_SETUP],
        },
      },
      {
        extends: true,
        test: { name: 'postgres', include: POSTGRES_TESTS, globalSetup: [POSTGRES_SETUP] },
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
