// Creating an account's repository at a location, on several nodes of one PostgreSQL database:
// one creation at a time (core/storage-locations/repository-init-lock.ts), so two nodes starting
// the account's first backups together on a store that ignores If-None-Match (s3rver here) end
// with one repository both open, not two configs racing for one marker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kernel, openKernel } from '../../../core/appliance.ts';
import { runSql } from '../../../core/db/run-sql.ts';
import { createLogger } from '../../../core/logging.ts';
import { ObjectExistsError, ObjectNotFoundError, type PutOptions } from '../../../core/plugins/sink.ts';
import { repositoryInitLock } from '../../../core/storage-locations/repository-init-lock.ts';
import { openOrInitRepository } from '../../../core/tasks/storage.ts';
import type { S3Sink } from '../../../plugins/sinks/s3/s3-sink.ts';
import { Repository } from '../../../storage/repository.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { type LoopbackS3, startS3rver } from '../../helpers/s3rver.ts';

let h: JobsHarness;
/** A second node: a kernel of its own (connection pool) on the same database. */
let other: Kernel;
let s3: LoopbackS3;
beforeAll(async () => {
  h = await createJobsHarness();
  other = await openKernel(h.app.kernel.deps.config, createLogger('silent'));
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
  await other?.close();
  await h?.close();
});

/** Advisory locks some session waits for, in this database. */
async function waitingForAdvisoryLocks(): Promise<number> {
  const [row] = await runSql<{ n: string }[]>(
    h.app.kernel.orm.em.fork(),
    "select count(*) as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
  );
  return Number(row?.n);
}

/**
 * A sink whose if-absent config write looks (HEAD), then waits until the other node has looked
 * too — or is waiting for the creation lock — and then writes: the window in which a store
 * without If-None-Match lets both writes through, always hit.
 */
function racingConfigWrites(inner: S3Sink, rendezvous: { looked: number }): S3Sink {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'put')
        return async (key: string, body: Uint8Array, options: PutOptions = {}) => {
          if (key !== 'config' || !options.ifAbsent) return target.put(key, body, options);
          const there = await target.head(key).then(
            () => true,
            (err: unknown) => {
              if (err instanceof ObjectNotFoundError) return false;
              throw err;
            },
          );
          if (there) throw new ObjectExistsError(key);
          rendezvous.looked++;
          while (rendezvous.looked < 2 && (await waitingForAdvisoryLocks()) === 0) {}
          return target.put(key, body, { ...options, ifAbsent: false });
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('creating a repository on several nodes', () => {
  it("holds a second node's creation of the same repository until the first one's has ended", async () => {
    const onA = repositoryInitLock(h.app.kernel.orm.em, 'location-1', 'org-1');
    const onB = repositoryInitLock(other.orm.em, 'location-1', 'org-1');
    const steps: string[] = [];
    let finishFirst = () => {};
    let firstHolds = () => {};
    const holding = new Promise<void>((resolve) => {
      firstHolds = resolve;
    });
    const first = onA(async () => {
      steps.push('first creates');
      firstHolds();
      await new Promise<void>((resolve) => {
        finishFirst = resolve;
      });
      steps.push('first done');
    });
    await holding;
    const second = onB(async () => {
      steps.push('second creates');
    });
    // The second node is seen waiting for the lock before the first one lets go.
    while ((await waitingForAdvisoryLocks()) === 0) {}
    expect(steps).toEqual(['first creates']);
    finishFirst();
    await Promise.all([first, second]);
    expect(steps).toEqual(['first creates', 'first done', 'second creates']);

    // Another repository (another account) is not held up by it.
    const elsewhere = repositoryInitLock(other.orm.em, 'location-1', 'org-2');
    let blocker = () => {};
    const held = onA(
      () =>
        new Promise<void>((resolve) => {
          blocker = resolve;
        }),
    );
    await expect(elsewhere(async () => 'created')).resolves.toBe('created');
    blocker();
    await held;
  });

  it('two nodes opening a missing repository at once on a store that ignores If-None-Match end with one repository', async () => {
    // Two nodes: two sinks (each emulates if-absent writes on its own) on one prefix, whose
    // config writes always meet in the race window (unless one node waits for the lock).
    const prefix = 'organizations/race/';
    const rendezvous = { looked: 0 };
    const nodes = [h.app.kernel, other].map((kernel) => ({
      sink: racingConfigWrites(s3.sink({ prefix }), rendezvous),
      lock: repositoryInitLock(kernel.orm.em, 'location-1', 'race'),
    }));
    const opened = await Promise.all(
      nodes.map(({ sink, lock }) => openOrInitRepository(sink, 'the passphrase', {}, lock)),
    );
    expect(opened[1]?.id).toBe(opened[0]?.id);
    // A later open finds the same repository, its marker and config agreeing.
    const again = await Repository.open(s3.sink({ prefix }), { passphrase: 'the passphrase' });
    expect(again.id).toBe(opened[0]?.id);
    for (const repo of [...opened, again]) repo.close();
  });
});
