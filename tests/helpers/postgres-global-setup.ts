// Vitest global setup of the PostgreSQL runs (tests/README.md): the project `postgres` (the
// representative database suites, part of `npm test`) and any run with HOLDFAST_TEST_DB=postgres
// (every suite). Starts one PostgreSQL server for the project, migrates its `template1` (every
// database the tests create is a copy of it, schema included) and hands the server's URL to the
// test files (`inject('postgresUrl')`, read by tests/helpers/config.ts).
import { MikroORM } from '@mikro-orm/core';
import type { TestProject } from 'vitest/node';
import { ormOptions } from '../../config/orm.ts';
import { startPostgresServer } from './postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's PostgreSQL server (postgres://user:password@host:port), '' on SQLite. */
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (project.name !== 'postgres' && process.env.HOLDFAST_TEST_DB !== 'postgres') {
    project.provide('postgresUrl', '');
    return undefined;
  }
  const server = await startPostgresServer();
  try {
    const orm = await MikroORM.init(
      await ormOptions({ databasePath: '', databaseBusyTimeoutMs: 5000, databaseUrl: `${server.url}/template1` }),
    );
    try {
      await orm.migrator.up();
    } finally {
      await orm.close();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
