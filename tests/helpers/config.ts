// A configuration for tests: a fresh temporary data folder, a free port, silent logs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { databaseUrlOf, testPostgresUrl } from './postgres.ts';

export function tempDir(prefix = 'holdfast-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function testConfig(dataDir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      HOLDFAST_DATA_DIR: dataDir,
      HOLDFAST_PORT: '0',
      HOLDFAST_HOST: '127.0.0.1',
      HOLDFAST_LOG_LEVEL: 'silent',
      ...postgresDatabase(dataDir),
      ...env,
    },
  });
}

/** On a PostgreSQL run, the data folder's own database (created on first connect). */
export function postgresDatabase(dataDir: string): Record<string, string> {
  const server = testPostgresUrl();
  return server ? { HOLDFAST_DATABASE_URL: databaseUrlOf(server, dataDir) } : {};
}

/** The problems a ConfigError lists (fails when `fn` throws something else or nothing). */
export function configProblemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
