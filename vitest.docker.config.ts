import { defineConfig } from 'vitest/config';
import { DOCKER_TESTS } from './vitest.config.ts';

// `npm run test:docker`: the suites that need a Docker engine (MinIO via testcontainers). Without
// one they fail and say why; .ci/run runs them only where an engine answers.
export default defineConfig({
  test: {
    include: [DOCKER_TESTS],
    pool: 'forks',
    testTimeout: 120_000,
    // Pulling and starting the MinIO image.
    hookTimeout: 300_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest-docker.json' },
  },
});
