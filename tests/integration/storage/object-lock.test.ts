// A repository on an S3 location with Object Lock, as the appliance opens it (immutableSink over
// the S3 sink), against s3rver behind the loopback Object Lock gate (tests/fakes/
// s3-object-lock-gate.ts; s3rver alone enforces nothing). The gate's clock is the store's clock,
// moved forward to let locks lapse. The same against MinIO is not run here (no Docker).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ObjectLockedError, type Sink } from '../../../core/plugins/sink.ts';
import { immutableSink } from '../../../core/storage-locations/immutable-sink.ts';
import { withLock } from '../../../storage/locks.ts';
import { renewLocks } from '../../../storage/object-locks.ts';
import { packKey } from '../../../storage/pack.ts';
import { pruneRepository } from '../../../storage/prune.ts';
import { listPacks, Repository } from '../../../storage/repository.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { type ObjectLockGate, startObjectLockGate } from '../../fakes/s3-object-lock-gate.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';

const DAY = 86_400_000;
let server: LoopbackS3;
let gate: ObjectLockGate;
beforeAll(async () => {
  server = await startS3rver(['locked']);
  gate = await startObjectLockGate(server.endpoint);
});
afterAll(async () => {
  await gate.close();
  await server.stop();
});

let start: number;
const now = () => gate.clock.now as number;
const moveClock = (days: number) => {
  gate.clock.now = now() + days * DAY;
};
beforeEach(() => {
  start = Date.now();
  gate.clock.now = start;
});

function lockedSink(): Sink {
  return immutableSink(
    server.sink({
      endpoint: gate.endpoint,
      objectLockMode: 'COMPLIANCE',
      immutabilityDays: 30,
      retry: { attempts: 1 },
    }),
    now,
  );
}

async function snapshot(repo: Repository, entity: string, files: Record<string, Buffer>): Promise<string> {
  return withLock(
    repo.sink,
    'shared',
    { purpose: 'backup' },
    async () => {
      const w = new SnapshotWriter(repo, { task: 't', entity });
      for (const [key, body] of Object.entries(files)) await w.add({ key, kind: 'file' }, body);
      return (await w.commit()).id;
    },
    repo,
  );
}

const prune = (repo: Repository) =>
  withLock(repo.sink, 'exclusive', { purpose: 'prune' }, () => pruneRepository(repo, { graceMs: 0, now }), repo);

describe('a repository on a location with Object Lock', () => {
  it('writes every pack, index and snapshot locked for the period, and keys, config and locks unlocked', async () => {
    const sink = lockedSink();
    const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
    await snapshot(repo, 'e', { a: randomBytes(300_000) });
    const ends: Record<string, number | undefined> = {};
    for await (const info of sink.list('')) {
      const until = (await sink.head(info.key)).retainUntil;
      ends[info.key.split('/')[0] as string] = until ? Math.round((until.getTime() - start) / DAY) : undefined;
    }
    expect(ends).toEqual({
      data: 30,
      index: 30,
      snapshots: 30,
      keys: undefined,
      config: undefined,
      'holdfast-repository': undefined,
    });
    // With the appliance's own credentials, no pack can be deleted.
    for (const id of (await listPacks(sink)).keys())
      await expect(sink.delete(packKey(id))).rejects.toBeInstanceOf(ObjectLockedError);
    expect(gate.refused.filter((r) => r.startsWith('DELETE') && r.includes('/data/')).length).toBeGreaterThan(0);
  });

  it('prune leaves a locked dead pack, says when it is reclaimed, and removes it once the lock lapses', async () => {
    const sink = lockedSink();
    const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
    await snapshot(repo, 'kept', { k: randomBytes(200_000) });
    // Blobs no snapshot uses: a pack that is dead from the start.
    await withLock(
      sink,
      'shared',
      { purpose: 'orphan' },
      async () => {
        await repo.saveBlob('data', randomBytes(400_000));
        await repo.flush();
      },
      repo,
    );
    const deadPack = repo.packsUploaded.at(-1)?.id as string;
    moveClock(1); // past prune's grace, on the store's clock too

    const first = await prune(await Repository.open(sink, { passphrase: PASSPHRASE }));
    expect(first).toMatchObject({ packsDeleted: 0, lockedPacks: 1, lockedIndexFiles: 2 });
    expect(first.lockedBytes).toBeGreaterThan(400_000);
    expect(Math.round((Date.parse(first.reclaimableAfter as string) - start) / DAY)).toBe(30);
    expect((await listPacks(sink)).has(deadPack)).toBe(true);
    // Prune never asked the store to delete it.
    expect(gate.refused.filter((r) => r.includes(deadPack))).toEqual([]);

    moveClock(30);
    const second = await prune(await Repository.open(sink, { passphrase: PASSPHRASE }));
    expect(second).toMatchObject({ packsDeleted: 1, lockedPacks: 0 });
    expect((await listPacks(sink)).has(deadPack)).toBe(false);
    // What the kept snapshot needs is still there and readable.
    const reopened = await Repository.open(sink, { passphrase: PASSPHRASE });
    expect((await reopened.listSnapshots()).map((s) => s.manifest.entity)).toEqual(['kept']);
  });

  it('renews the locks of what is in use; a snapshot forgotten while locked goes once its lock lapses', async () => {
    const sink = lockedSink();
    const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
    const old = await snapshot(repo, 'old', { o: randomBytes(200_000) });
    const current = await snapshot(repo, 'current', { c: randomBytes(200_000) });

    const still = await withLock(sink, 'exclusive', { purpose: 'forget' }, () => repo.forgetSnapshot(old, now), repo);
    expect(Math.round(((still as Date).getTime() - start) / DAY)).toBe(30);
    expect([...(await repo.forgettingSnapshots())]).toEqual([old]);

    moveClock(20);
    const renewed = await renewLocks(await Repository.open(sink, { passphrase: PASSPHRASE }), {
      periodMs: 30 * DAY,
      now,
    });
    // The current snapshot, its pack(s) and the index files naming them; not the forgotten one.
    expect(renewed.renewed).toBeGreaterThanOrEqual(3);
    expect(renewed.unlocked).toBe(0);
    const end = async (key: string) =>
      Math.round((((await sink.head(key)).retainUntil as Date).getTime() - start) / DAY);
    expect(await end(`snapshots/${current}`)).toBe(50);
    expect(await end(`snapshots/${old}`)).toBe(30);

    moveClock(11); // day 31: the forgotten snapshot's lock has lapsed, the current one's holds
    await expect(sink.delete(`snapshots/${current}`)).rejects.toBeInstanceOf(ObjectLockedError);
    expect(await withLock(sink, 'exclusive', { purpose: 'forget' }, () => repo.forgetSnapshot(old, now), repo)).toBe(
      undefined,
    );
    expect(await repo.forgettingSnapshots()).toEqual(new Set());
    const pruned = await prune(await Repository.open(sink, { passphrase: PASSPHRASE }));
    expect(pruned.packsDeleted + pruned.packsRepacked).toBeGreaterThan(0);
    const left = await Repository.open(sink, { passphrase: PASSPHRASE });
    expect((await left.listSnapshots()).map((s) => s.id)).toEqual([current]);
  });
});

describe('the holdfast repo CLI on a location with Object Lock', () => {
  it('writes a backup locked, and its prune leaves the locked objects', async () => {
    gate.clock.now = undefined;
    const prefix = randomUUID();
    const args = [
      '--sink',
      's3',
      '--endpoint',
      gate.endpoint,
      '--bucket',
      'locked',
      '--prefix',
      prefix,
      '--force-path-style',
      '--access-key-id',
      S3RVER_CREDENTIALS.accessKeyId,
      '--object-lock-mode',
      'COMPLIANCE',
      '--immutability-days',
      '7',
    ];
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
      HOLDFAST_SINK_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    };
    const src = mkdtempSync(join(tmpdir(), 'holdfast-locked-src-'));
    try {
      writeFileSync(join(src, 'a.txt'), randomBytes(50_000));
      expect((await runToEnd(['core/cli.ts', 'repo', 'init', ...args], env)).code).toBe(0);
      const backup = await runToEnd(['core/cli.ts', 'repo', 'backup', src, ...args], env);
      expect(backup.code).toBe(0);
      const sink = server.sink({ endpoint: gate.endpoint, prefix, objectLockMode: 'COMPLIANCE', immutabilityDays: 7 });
      const days = new Set<number>();
      for (const p of ['data/', 'index/', 'snapshots/'])
        for await (const info of sink.list(p))
          days.add(Math.round((((await sink.head(info.key)).retainUntil as Date).getTime() - Date.now()) / DAY));
      expect([...days]).toEqual([7]);
      writeFileSync(join(src, 'a.txt'), randomBytes(50_000));
      expect((await runToEnd(['core/cli.ts', 'repo', 'backup', src, ...args], env)).code).toBe(0);
      const pruned = await runToEnd(
        ['core/cli.ts', 'repo', 'prune', '--keep-last', '1', '--grace-hours', '0', ...args],
        env,
      );
      expect(pruned.code).toBe(0);
      expect(pruned.stdout).toMatch(
        /1 snapshot\(s\) outside the retention are locked until \S+ at the latest: forgotten by the first prune after their lock lapses\./,
      );
      expect(gate.refused.filter((r) => r.includes(prefix))).toEqual([]);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
});
