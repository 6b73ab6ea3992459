// Two connections writing one database file, as the server and its job worker threads do. A
// transaction that reads before it writes must not fail because another connection committed in
// between: with SQLite's default deferred BEGIN it holds a read snapshot, and upgrading that to a
// write after someone else's commit is refused at once ("database is locked", no busy wait).
// Transactions therefore begin IMMEDIATE: they take the write lock first, and the other writer
// waits its busy timeout instead of one of them failing.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../core/db/database.ts';
import { runSql } from '../../../core/db/run-sql.ts';
import { tempDir } from '../../helpers/config.ts';

type Orm = Awaited<ReturnType<typeof openDatabase>>;

// The other connection: tries its write with a short busy timeout, says whether it wrote or was
// kept waiting, and when kept waiting tries again with a long one.
const OTHER_WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
parentPort.once('message', () => {
  const db = new Database(workerData.path, { timeout: 200 });
  const write = () => db.prepare("insert into counters (name) values ('other')").run();
  try {
    write();
    parentPort.postMessage('wrote');
  } catch (err) {
    if (err.code !== 'SQLITE_BUSY') throw err;
    parentPort.postMessage('waiting');
    db.pragma('busy_timeout = 10000');
    write();
    parentPort.postMessage('wrote');
  }
  db.close();
});
`;

let dir: { path: string; remove(): void } | undefined;
let orm: Orm;

beforeAll(async () => {
  dir = tempDir();
  orm = await openDatabase({ databasePath: join(dir.path, 'holdfast.sqlite'), databaseBusyTimeoutMs: 5000 });
  await runSql(orm.em.fork(), 'create table counters (name text not null)');
});

afterAll(async () => {
  await orm?.close(true);
  dir?.remove();
});

describe('two connections writing one database', () => {
  it('a transaction that reads, then writes after another connection wrote, commits', async () => {
    const worker = new Worker(OTHER_WRITER, {
      eval: true,
      workerData: {
        path: join(dir?.path ?? '', 'holdfast.sqlite'),
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      },
    });
    const messages: string[] = [];
    const next = () => new Promise<string>((resolve) => worker.once('message', resolve));
    const finished = new Promise<void>((resolve, reject) => {
      worker.on('error', reject);
      worker.on('exit', () => resolve());
    });

    await orm.em.fork().transactional(async (em) => {
      const [before] = await runSql<{ n: number }[]>(em, 'select count(*) as n from counters');
      expect(before?.n).toBe(0);
      const first = next();
      worker.postMessage('go');
      messages.push(await first);
      await runSql(em, "insert into counters (name) values ('mine')");
    });
    if (messages[0] === 'waiting') messages.push(await next());
    await finished;

    // The other writer was kept waiting for this transaction, then wrote: both rows are there.
    expect(messages).toEqual(['waiting', 'wrote']);
    const rows = await runSql<{ name: string }[]>(orm.em.fork(), 'select name from counters order by rowid');
    expect(rows.map((r) => r.name)).toEqual(['mine', 'other']);
  });
});
