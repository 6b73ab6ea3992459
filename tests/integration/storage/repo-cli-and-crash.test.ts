// The repository as operators use it (the `holdfast repo` CLI in a child process) and as a crash
// leaves it: a backup killed with SIGKILL at random points must leave every committed snapshot
// restorable, verify clean, the next backup working, and prune able to remove all garbage.

import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { restoreSnapshot } from '../../../storage/filesystem.ts';
import { pruneRepository } from '../../../storage/prune.ts';
import { Repository } from '../../../storage/repository.ts';
import { treeItems } from '../../../storage/tree.ts';
import { verifyRepository } from '../../../storage/verify.ts';
import { killAtRandomWrite, runWatchingWrites } from '../../helpers/kill-points.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { describeTree, makeSource } from '../../helpers/source-tree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-repo-cli-'));
  dirs.push(d);
  return d;
}

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
  ...extra,
});
const repoCli = (args: string[], extra?: Record<string, string>) =>
  runToEnd(['core/cli.ts', 'repo', ...args], env(extra));

/** A source folder backed up once through the CLI into a new repository. */
async function backedUpWithCli(): Promise<{ base: string; src: string; sink: string[] }> {
  const base = temp();
  const src = join(base, 'src');
  mkdirSync(src);
  makeSource(src);
  const sink = ['--sink', 'local', '--path', join(base, 'repo')];
  await repoCli(['init', ...sink]);
  await repoCli(['backup', src, ...sink]);
  return { base, src, sink };
}

/** Every pack file of a local repository. */
function packFiles(repoDir: string): string[] {
  return readdirSync(join(repoDir, 'data')).flatMap((sub) =>
    readdirSync(join(repoDir, 'data', sub)).map((name) => join(repoDir, 'data', sub, name)),
  );
}

describe('holdfast repo CLI', () => {
  // About a dozen CLI processes one after another, each a Node start: a budget for a busy machine.
  it('inits, backs up, lists, restores byte for byte with metadata, verifies, and reports errors with exit codes', {
    timeout: 180_000,
  }, async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeSource(src);
    const sink = ['--sink', 'local', '--path', join(base, 'repo')];

    const init = await repoCli(['init', ...sink]);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/^Created repository [0-9a-f-]{36} in local:/);
    expect((await repoCli(['init', ...sink])).code).toBe(4);

    const first = await repoCli(['backup', src, ...sink]);
    expect(first.code).toBe(0);
    const id = first.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const second = await repoCli(['backup', src, ...sink]);
    expect(second.stderr).toMatch(/\(6\d unchanged\)/);

    const list = await repoCli(['snapshots', '--json', ...sink]);
    const snapshots = JSON.parse(list.stdout) as { id: string; parent?: string; entity: string }[];
    expect(snapshots.map((s) => s.id)).toEqual([id, second.stdout.trim()]);
    expect(snapshots[1]?.parent).toBe(id);

    const ls = await repoCli(['ls', id.slice(0, 10), ...sink]);
    expect(ls.stdout).toContain('docs/2026/März/Überweisung 💶.pdf');

    const target = join(base, 'restored');
    const restored = await repoCli(['restore', id, target, ...sink]);
    expect(restored.code).toBe(0);
    expect(describeTree(target)).toEqual(describeTree(src));

    const verify = await repoCli(['verify', '--read-data', ...sink]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/no problems\n$/);

    // Disaster recovery: a fresh appliance data folder attaches the repository and catalogs it.
    const appliance = join(base, 'appliance-data');
    const attached = await repoCli(['attach', ...sink], { HOLDFAST_DATA_DIR: appliance, HOLDFAST_LOG_LEVEL: 'silent' });
    expect(attached.code).toBe(0);
    expect(attached.stdout).toMatch(
      /^Attached repository [0-9a-f-]{36}: 2 snapshots, 6\d items, 6\d versions in the catalog\.\n$/,
    );
    const reindexed = await repoCli(['reindex', ...sink], {
      HOLDFAST_DATA_DIR: appliance,
      HOLDFAST_LOG_LEVEL: 'silent',
    });
    expect(reindexed.stdout.replace('Reindexed', 'Attached')).toBe(attached.stdout);

    // Retention: keep the last one, prune the rest away; the kept snapshot still restores.
    // The appliance's catalog forgets the snapshot too.
    const pruned = await repoCli(['prune', '--keep-last', '1', '--grace-hours', '0', ...sink], {
      HOLDFAST_DATA_DIR: appliance,
      HOLDFAST_LOG_LEVEL: 'silent',
    });
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('Forgot 1 snapshot(s) outside the retention.');
    expect(pruned.stdout).toContain('Catalog: removed 1 snapshot(s) no longer in the repository.');
    const left = JSON.parse((await repoCli(['snapshots', '--json', ...sink])).stdout) as { id: string }[];
    expect(left.map((s) => s.id)).toEqual([second.stdout.trim()]);
    const again = join(base, 'restored-after-prune');
    expect((await repoCli(['restore', second.stdout.trim(), again, ...sink])).code).toBe(0);
    expect(describeTree(again)).toEqual(describeTree(src));
    expect((await repoCli(['verify', '--read-data', ...sink])).code).toBe(0);
    expect((await repoCli(['prune', '--keep-within', '3w', ...sink])).code).toBe(2);

    expect((await repoCli(['snapshots', ...sink], { HOLDFAST_REPO_PASSPHRASE: 'wrong' })).code).toBe(4);
    expect((await repoCli(['snapshots', '--sink', 'local', '--path', join(base, 'nothing')])).code).toBe(4);
    expect((await repoCli(['snapshots', '--sink', 'nas'])).stderr).toContain(
      'unknown sink "nas"; available: local, s3, azure, gcs',
    );
    expect((await repoCli(['snapshots', '--sink', 'local', '--path', 'relative'])).code).toBe(2);
    expect((await repoCli(['restore', 'zzz', target, ...sink])).code).toBe(2);
    expect((await repoCli(['frobnicate', ...sink])).code).toBe(2);
  });

  it('verify names a corrupted pack and exits 5', async () => {
    const { base, sink } = await backedUpWithCli();
    const path = packFiles(join(base, 'repo'))[0] as string;
    const pack = path.split('/').pop() as string;
    const bytes = readFileSync(path);
    bytes[1000] = (bytes[1000] as number) ^ 0x55;
    writeFileSync(path, bytes);
    const full = await repoCli(['verify', '--read-data=100', ...sink]);
    expect(full.code).toBe(5);
    expect(full.stdout).toMatch(
      new RegExp(`PROBLEM blob [0-9a-f]{64}: in pack ${pack}: blob [0-9a-f]{64} failed authentication`),
    );
  });

  it('verify names a truncated pack and a missing index file', async () => {
    const { base, sink } = await backedUpWithCli();
    const victim = packFiles(join(base, 'repo'))[0] as string;
    writeFileSync(victim, readFileSync(victim).subarray(0, 2000));
    const truncated = await repoCli(['verify', ...sink]);
    expect(truncated.code).toBe(5);
    expect(truncated.stdout).toContain(`PROBLEM pack ${victim.split('/').pop()}: has 2000 bytes, the index says`);

    const indexDir = join(base, 'repo', 'index');
    for (const name of readdirSync(indexDir)) rmSync(join(indexDir, name));
    const noIndex = await repoCli(['verify', ...sink]);
    expect(noIndex.code).toBe(5);
    // With no index file every pack is indexed from its trailer, which the truncated pack lost: the
    // snapshots that use it are named, whether it held tree nodes or file contents.
    expect(noIndex.stdout).toMatch(/PROBLEM snapshot [0-9a-f]{64}: .*(is not in any index|is not indexed)/);
  });
});

describe('crash safety', () => {
  it('survives SIGKILL at 20 random points of a backup', { timeout: 600_000 }, async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeSource(src);
    const sinkPath = join(base, 'repo');
    await Repository.init(new LocalSink({ path: sinkPath }), { passphrase: PASSPHRASE, ...SMALL });
    const args = ['core/cli.ts', 'repo', 'backup', src, '--sink', 'local', '--path', sinkPath];

    // An uninterrupted run tells how many file-system events a backup makes; the kill points are
    // drawn from them, so each one lands while the backup writes.
    const clean = await runWatchingWrites(args, env(), sinkPath);
    expect(clean.exit).toBe(0);

    for (let round = 0; round < 20; round++) {
      let attempt = 0;
      await killAtRandomWrite(args, env(), sinkPath, clean.events, () => {
        // New and changed data each run, so every run uploads something.
        attempt++;
        writeFileSync(join(src, `new-${round}-${attempt}.bin`), randomBytes(400_000 + randomInt(400_000)));
        writeFileSync(join(src, 'docs', `note-${round}.txt`), `changed in round ${round}, run ${attempt}\n`);
      });

      // After every crash: the repository verifies clean and every snapshot restores whole.
      const repo = await Repository.open(new LocalSink({ path: sinkPath }), { passphrase: PASSPHRASE });
      const report = await verifyRepository(repo, { readDataPercent: 100 });
      expect(report.problems).toEqual([]);
      const snapshots = await repo.listSnapshots();
      const latest = snapshots.at(-1);
      if (latest) {
        const target = join(base, `restore-${round}`);
        await restoreSnapshot(repo, latest.id, target);
        let items = 0;
        for await (const _ of treeItems(repo, latest.manifest.tree)) items++;
        expect(items).toBe(latest.manifest.stats.items);
        rmSync(target, { recursive: true });
      }
    }
    // The next backup succeeds and captures the source exactly.
    const next = await runToEnd(args, env());
    expect(next.code).toBe(0);
    const repo = await Repository.open(new LocalSink({ path: sinkPath }), { passphrase: PASSPHRASE });
    const target = join(base, 'final');
    await restoreSnapshot(repo, next.stdout.trim(), target);
    expect(describeTree(target)).toEqual(describeTree(src));

    // Prune (no grace) removes all garbage the crashes left; everything still verifies.
    await pruneRepository(repo, { graceMs: 0, repackThreshold: 0.0001 });
    const after = await Repository.open(new LocalSink({ path: sinkPath }), { passphrase: PASSPHRASE });
    expect((await verifyRepository(after, { readDataPercent: 100 })).problems).toEqual([]);
    const again = await pruneRepository(after, { graceMs: 0, repackThreshold: 0.0001 });
    expect({ deleted: again.packsDeleted, repacked: again.packsRepacked }).toEqual({ deleted: 0, repacked: 0 });
    expect(readdirSync(join(sinkPath, 'index'))).toHaveLength(1);
    const final = join(base, 'final-after-prune');
    await restoreSnapshot(after, next.stdout.trim(), final);
    expect(describeTree(final)).toEqual(describeTree(src));
    expect(statSync(join(final, 'script.sh')).mode & 0o777).toBe(0o755);
  });
});
