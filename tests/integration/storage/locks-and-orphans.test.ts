// What a crashed backup leaves behind costs nothing lasting: its lock is stale as soon as its
// process is gone (same host), `holdfast repo unlock` removes stale locks, the next backup reuses
// the packs it uploaded (storage does not double), and prune removes them at once when no live
// lock is older than them.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  type FSWatcher,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { currentLockOwner, type LockRecord, lockedSince, RepositoryLock } from '../../../storage/locks.ts';
import { pruneRepository } from '../../../storage/prune.ts';
import { Repository } from '../../../storage/repository.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { repoRoot, runToEnd } from '../../helpers/process.ts';
import { createTestRepo, PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { describeTree } from '../../helpers/source-tree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-locks-'));
  dirs.push(d);
  return d;
}

const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, HOLDFAST_REPO_PASSPHRASE: PASSPHRASE });
const repoCli = (args: string[]) => runToEnd(['core/cli.ts', 'repo', ...args], env());

function packFiles(sinkPath: string): string[] {
  const data = join(sinkPath, 'data');
  return listed(data).flatMap((sub) => listed(join(data, sub)).map((name) => join(data, sub, name)));
}
const packBytes = (sinkPath: string) => packFiles(sinkPath).reduce((n, p) => n + statSync(p).size, 0);
const listed = (path: string) => {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
};
const lockFiles = (sinkPath: string) => listed(join(sinkPath, 'locks'));

const SOURCE_BYTES = 24 * 1024 * 1024;

/** A repository with small packs and a source of incompressible data (~24 packs). */
async function setUp(): Promise<{ base: string; src: string; sinkPath: string; sink: string[] }> {
  const base = temp();
  const src = join(base, 'src');
  mkdirSync(src);
  for (let i = 0; i < 6; i++) writeFileSync(join(src, `part-${i}.bin`), randomBytes(SOURCE_BYTES / 6));
  const sinkPath = join(base, 'repo');
  await Repository.init(new LocalSink({ path: sinkPath }), { passphrase: PASSPHRASE, ...SMALL });
  return { base, src, sinkPath, sink: ['--sink', 'local', '--path', sinkPath] };
}

/**
 * Runs `holdfast repo backup` and kills it (SIGKILL) once it has uploaded about half the source,
 * before it could write an index file or its snapshot. Returns the killed process's pid.
 */
async function crashedBackup(src: string, sinkPath: string): Promise<number> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['core/cli.ts', 'repo', 'backup', src, '--sink', 'local', '--path', sinkPath],
    { cwd: repoRoot, env: env(), stdio: 'ignore' },
  );
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? '')));
  let watcher: FSWatcher | undefined;
  const halfway = new Promise<void>((resolve) => {
    watcher = watch(sinkPath, { recursive: true }, () => {
      if (packBytes(sinkPath) >= SOURCE_BYTES / 2) resolve();
    });
  });
  await Promise.race([halfway, exited]);
  watcher?.close();
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  expect(listed(join(sinkPath, 'snapshots'))).toEqual([]);
  expect(listed(join(sinkPath, 'index'))).toEqual([]);
  expect(lockFiles(sinkPath)).toHaveLength(1);
  return child.pid as number;
}

describe('after a crashed backup', () => {
  it('verify names the stale lock and the orphan packs; the next backup reuses them: storage does not double', {
    timeout: 120_000,
  }, async () => {
    const { base, src, sinkPath, sink } = await setUp();
    const pid = await crashedBackup(src, sinkPath);
    const orphans = packFiles(sinkPath);
    const orphanBytes = packBytes(sinkPath);

    const verify = await repoCli(['verify', ...sink]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`STALE LOCK locks/[0-9a-f-]+: shared, backup of .* \\(pid ${pid}\\)`));
    for (const path of orphans) {
      const id = path.split('/').pop() as string;
      expect(verify.stdout).toContain(`ORPHAN pack ${id}: ${statSync(path).size} bytes`);
    }

    const next = await repoCli(['backup', src, ...sink]);
    expect(next.code).toBe(0);
    const uploaded = Number(/uploaded (\d+) bytes/.exec(next.stderr)?.[1]);
    expect(uploaded).toBeLessThan(SOURCE_BYTES + 2 * 1024 * 1024 - orphanBytes);
    expect(packBytes(sinkPath)).toBeLessThan(SOURCE_BYTES * 1.1);

    const restored = join(base, 'restored');
    expect((await repoCli(['restore', next.stdout.trim(), restored, ...sink])).code).toBe(0);
    expect(describeTree(restored)).toEqual(describeTree(src));
    const clean = await repoCli(['verify', '--read-data', ...sink]);
    expect(clean.stdout).not.toContain('ORPHAN');
    expect(clean.stdout).toMatch(/no problems\n$/);
  });

  it('prune right after the crash is not refused by the dead lock and removes the orphan packs at once', {
    timeout: 120_000,
  }, async () => {
    const { sinkPath, src, sink } = await setUp();
    await crashedBackup(src, sinkPath);
    const orphans = packFiles(sinkPath).length;
    const bytes = packBytes(sinkPath);

    const prune = await repoCli(['prune', ...sink]); // default grace: 24 hours
    expect(prune.stderr).not.toContain('locked');
    expect(prune.code).toBe(0);
    expect(prune.stdout).toContain(`${orphans} packs deleted, 0 repacked, ${bytes} bytes freed; 0 packs kept`);
    expect(packFiles(sinkPath)).toEqual([]);
    expect(lockFiles(sinkPath)).toEqual([]);
  });
});

describe("prune's grace", () => {
  it('keeps unreferenced packs younger than a live lock, and removes them at once when every live lock is younger', async () => {
    const t = await createTestRepo();
    dirs.push(t.root);
    const w = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    await w.add({ key: 'f', kind: 'file' }, randomBytes(3 * 1024 * 1024));
    const { id } = await w.commit();
    await t.repo.forgetSnapshot(id);
    const packs = packFiles(t.sink.root).length;
    expect(packs).toBeGreaterThan(1);

    // The test's lock was taken before the packs were written: they may be a running backup's.
    const kept = await pruneRepository(await t.reopen());
    expect({ deleted: kept.packsDeleted, kept: kept.keptForGrace }).toEqual({ deleted: 0, kept: packs });

    await t.lock.release();
    const later = await RepositoryLock.acquire(t.sink, 'shared', { purpose: 'later' });
    const repo = await Repository.open(t.sink, { passphrase: PASSPHRASE });
    const pruned = await pruneRepository(repo);
    expect({ deleted: pruned.packsDeleted, kept: pruned.keptForGrace }).toEqual({ deleted: packs, kept: 0 });
    expect(packFiles(t.sink.root)).toEqual([]);
    await later.release();
  });
});

describe('taking a lock', () => {
  it('writes it once and reads none of its own back; until its first refresh its since is the store time of that write', async () => {
    const sink = new LocalSink({ path: temp() });
    const calls: string[] = [];
    const counted = new Proxy(sink, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (['put', 'get', 'head', 'delete', 'list'].includes(String(prop))) calls.push(`${String(prop)} ${args[0]}`);
          return value.apply(target, args);
        };
      },
    });
    const lock = await RepositoryLock.acquire(counted, 'shared', { purpose: 'backup' });
    expect(calls).toEqual([`put ${lock.key}`, 'list locks/']);

    let written = 0;
    for await (const info of sink.list('locks/')) written = info.lastModified?.getTime() as number;
    expect(await lockedSince(sink)).toBe(written);
    await lock.refresh();
    const record = JSON.parse(readFileSync(join(sink.root, lock.key), 'utf8')) as LockRecord;
    expect(Date.parse(record.since as string)).toBe(written);
    expect(await lockedSince(sink)).toBe(written);
    await lock.release();
  });
});

describe('locks of dead processes', () => {
  /** The pid of a process that has exited. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    return child.pid as number;
  }

  async function writeLock(sinkPath: string, name: string, record: LockRecord): Promise<void> {
    await new LocalSink({ path: sinkPath }).put(`locks/${name}`, Buffer.from(JSON.stringify(record)));
  }

  const fresh = (kind: LockRecord['kind'], purpose: string): Omit<LockRecord, 'pid'> => ({
    ...currentLockOwner(),
    kind,
    purpose,
    created: new Date().toISOString(),
    expires: new Date(Date.now() + 600_000).toISOString(),
  });

  it('a lock whose owner on this host is gone, or whose pid was reused, is stale at once; unlock removes only those', async () => {
    const { sinkPath, sink } = await setUp();
    const sinkObject = new LocalSink({ path: sinkPath });
    await writeLock(sinkPath, 'dead-owner', { ...fresh('exclusive', 'prune'), pid: await deadPid() });
    const reused = { ...fresh('exclusive', 'prune'), pid: process.pid, started: 'another start' };
    await writeLock(sinkPath, 'reused-pid', reused);
    // Another machine's lock, fresh: it is live until it times out, whatever its pid.
    await writeLock(sinkPath, 'other-host', {
      ...fresh('shared', 'backup elsewhere'),
      host: `not-${hostname()}`,
      pid: await deadPid(),
    });

    const unlock = await repoCli(['unlock', ...sink]);
    expect(unlock.code).toBe(0);
    expect(unlock.stdout).toContain('Removed 2 stale lock(s).');
    expect(lockFiles(sinkPath).sort()).toEqual(['other-host']);

    // A live lock of this very process is kept by unlock, and removed by --remove-all.
    const live = await RepositoryLock.acquire(sinkObject, 'shared', { purpose: 'live one' });
    expect((await repoCli(['unlock', ...sink])).stdout).toContain('Removed 0 stale lock(s).');
    expect(lockFiles(sinkPath)).toHaveLength(2);
    const all = await repoCli(['unlock', '--remove-all', ...sink]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('Removed 2 lock(s).');
    expect(lockFiles(sinkPath)).toEqual([]);
    await live.refresh();
    expect(() => live.assertHeld()).toThrow(/was lost/);
    await live.release().catch(() => undefined);
  });

  it('an exclusive lock is refused while a live process of this host holds one, and granted once it is gone', async () => {
    const { sinkPath } = await setUp();
    const sinkObject = new LocalSink({ path: sinkPath });
    await writeLock(sinkPath, 'alive', { ...fresh('shared', 'backup'), pid: process.pid });
    await expect(RepositoryLock.acquire(sinkObject, 'exclusive', { purpose: 'prune' })).rejects.toThrow(
      /locked \(shared\) by backup/,
    );
    await writeLock(sinkPath, 'alive', { ...fresh('shared', 'backup'), pid: await deadPid() });
    const lock = await RepositoryLock.acquire(sinkObject, 'exclusive', { purpose: 'prune' });
    expect(lock.removedStale.map((l) => l.key)).toEqual(['locks/alive']);
    await lock.release();
  });
});
