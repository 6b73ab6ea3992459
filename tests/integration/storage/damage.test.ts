// Damage costs only what it holds (issue 14): a snapshot file that cannot be read is skipped with
// a warning by listing, backup, prune and retention, and `repair snapshots` removes or rewrites
// it; a restore goes past an unreadable blob or tree node, never leaves a truncated file under a
// real name, names what failed and exits 1; `restore --resume` finishes an interrupted restore.
// Everything runs through the `holdfast repo` CLI, as operators use it.
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repairSnapshots } from '../../../storage/repair.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { findItem } from '../../../storage/tree.ts';
import { damageBlob, flipByte, middleLeaf, openLocal } from '../../helpers/damage.ts';
import { describeFidelity, fidelityDifferences, rawJoin, setXattrs } from '../../helpers/fidelity-tree.ts';
import { runWatchingWrites } from '../../helpers/kill-points.ts';
import { runToEnd } from '../../helpers/process.ts';
import { createTestRepo, PASSPHRASE, readAll } from '../../helpers/repository.ts';
import { describeTree, makeSource } from '../../helpers/source-tree.ts';

const dirs: string[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const c of cleanups.splice(0)) c();
});

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
  ...extra,
});
const repoCli = (args: string[], extra?: Record<string, string>) =>
  runToEnd(['core/cli.ts', 'repo', ...args], env(extra));

interface Setup {
  base: string;
  src: string;
  sinkPath: string;
  sink: string[];
}

/** A source of the awkward cases plus 400 small files (several tree leaves), in a new repository. */
async function setUp(): Promise<Setup> {
  const base = mkdtempSync(join(tmpdir(), 'holdfast-damage-'));
  dirs.push(base);
  const src = join(base, 'src');
  mkdirSync(join(src, 'files'), { recursive: true });
  makeSource(src);
  for (let i = 0; i < 400; i++)
    writeFileSync(join(src, 'files', `f-${String(i).padStart(3, '0')}.bin`), randomBytes(5000));
  const sinkPath = join(base, 'repo');
  const sink = ['--sink', 'local', '--path', sinkPath];
  expect((await repoCli(['init', ...sink])).code).toBe(0);
  return { base, src, sinkPath, sink };
}

async function backup(s: Setup): Promise<string> {
  const done = await repoCli(['backup', s.src, ...s.sink]);
  expect(done.code).toBe(0);
  return done.stdout.trim();
}

/** The ids of the snapshot files in the repository folder. */
const snapshotFiles = (s: Setup) => readdirSync(join(s.sinkPath, 'snapshots')).sort();
const packFiles = (s: Setup) =>
  readdirSync(join(s.sinkPath, 'data'))
    .flatMap((sub) => readdirSync(join(s.sinkPath, 'data', sub)))
    .sort();

/** A described tree without some keys (as describeTree names them: relative paths). */
function without(tree: Record<string, string>, gone: string[]): Record<string, string> {
  const out = { ...tree };
  for (const key of gone) delete out[key];
  return out;
}

/** Files left under a partial name anywhere below `root`. */
function partials(root: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name.startsWith('.holdfast-restore-')) found.push(relative(root, path));
      else if (lstatSync(path).isDirectory()) visit(path);
    }
  };
  visit(root);
  return found;
}

describe('a damaged snapshot file', () => {
  it('is skipped with a warning by snapshots, prefix restore, backup, reindex, prune and retention; repair --forget removes it', {
    timeout: 180_000,
  }, async () => {
    const s = await setUp();
    const first = await backup(s);
    const second = await backup(s);
    flipByte(join(s.sinkPath, 'snapshots', second));
    const warning = new RegExp(`snapshot ${second} is unreadable .*does not match its name.*repair snapshots`);

    const list = await repoCli(['snapshots', ...s.sink]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(first.slice(0, 12));
    expect(list.stderr).toMatch(warning);
    const json = await repoCli(['snapshots', '--json', ...s.sink]);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((x) => x.id)).toEqual([first]);

    const target = join(s.base, 'restored');
    expect((await repoCli(['restore', first.slice(0, 10), target, ...s.sink])).code).toBe(0);
    expect(describeTree(target)).toEqual(describeTree(s.src));

    // The next backup follows the newest readable snapshot of the folder.
    const next = await repoCli(['backup', s.src, ...s.sink]);
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(warning);
    const third = next.stdout.trim();
    const after = JSON.parse((await repoCli(['snapshots', '--json', ...s.sink])).stdout) as {
      id: string;
      parent?: string;
    }[];
    expect(after.map((x) => [x.id, x.parent])).toEqual([
      [first, undefined],
      [third, first],
    ]);

    const appliance = { HOLDFAST_DATA_DIR: join(s.base, 'appliance'), HOLDFAST_LOG_LEVEL: 'silent' };
    const attached = await repoCli(['attach', ...s.sink], appliance);
    expect(attached.code).toBe(0);
    expect(attached.stdout).toMatch(/: 2 snapshots, /);
    expect(attached.stderr).toMatch(warning);

    // Prune cannot know what the damaged snapshot uses: retention still forgets readable
    // snapshots, but no pack is deleted, and it says why.
    const packs = packFiles(s);
    const pruned = await repoCli(['prune', '--keep-last', '1', '--grace-hours', '0', ...s.sink], appliance);
    expect(pruned.code).toBe(1);
    expect(pruned.stdout).toContain('Forgot 1 snapshot(s) outside the retention.');
    expect(pruned.stderr).toMatch(warning);
    expect(pruned.stdout).toMatch(/kept all data: 1 snapshot\(s\) cannot be read.*holdfast repo repair snapshots/);
    expect(packFiles(s)).toEqual(packs);
    expect(snapshotFiles(s)).toEqual([second, third].sort());

    const named = await repoCli(['repair', 'snapshots', ...s.sink]);
    expect(named.code).toBe(5);
    expect(named.stdout).toContain(`snapshot ${second}: unreadable`);
    expect(named.stdout).toContain('--forget');
    expect(snapshotFiles(s)).toEqual([second, third].sort());

    const removed = await repoCli(['repair', 'snapshots', '--forget', ...s.sink]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`snapshot ${second}: unreadable`);
    expect(snapshotFiles(s)).toEqual([third]);
    expect((await repoCli(['prune', '--grace-hours', '0', ...s.sink])).code).toBe(0);
    expect((await repoCli(['verify', '--read-data', ...s.sink])).code).toBe(0);
    const again = join(s.base, 'again');
    expect((await repoCli(['restore', third, again, ...s.sink])).code).toBe(0);
    expect(describeTree(again)).toEqual(describeTree(s.src));
  });
});

describe('restore past damage', () => {
  it('restores every other file exactly, names the ones with an unreadable blob, leaves them absent and exits 1', {
    timeout: 180_000,
  }, async () => {
    const s = await setUp();
    // Larger than the largest chunk (8 MiB), so the file always has a second blob to damage.
    writeFileSync(join(s.src, 'big.bin'), randomBytes(9 * 1024 * 1024));
    const id = await backup(s);
    const repo = await openLocal(s.sinkPath);
    const manifest = await repo.loadSnapshot(id);
    const small = await findItem(repo, manifest.tree, 'files/f-123.bin');
    const big = await findItem(repo, manifest.tree, 'big.bin');
    repo.close();
    expect(big?.content?.length).toBeGreaterThan(1);
    await damageBlob(s.sinkPath, small?.content?.[0] as string);
    await damageBlob(s.sinkPath, big?.content?.[1] as string);

    const target = join(s.base, 'restored');
    const restored = await repoCli(['restore', id, target, ...s.sink]);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/failed: big\.bin: blob [0-9a-f]{64} in pack [0-9a-f]{64} failed authentication/);
    expect(restored.stderr).toMatch(
      /failed: files\/f-123\.bin: blob [0-9a-f]{64} in pack [0-9a-f]{64} failed authentication/,
    );
    expect(restored.stdout).toContain('2 items could not be restored');
    expect(describeTree(target)).toEqual(without(describeTree(s.src), ['big.bin', 'files/f-123.bin']));
    expect(partials(target)).toEqual([]);
  });

  it('goes past a damaged tree node, naming the keys it held', { timeout: 180_000 }, async () => {
    const s = await setUp();
    const id = await backup(s);
    const repo = await openLocal(s.sinkPath);
    const manifest = await repo.loadSnapshot(id);
    const leaf = await middleLeaf(repo, manifest.tree);
    const lost = leaf.keys;
    repo.close();
    await damageBlob(s.sinkPath, leaf.id);

    const target = join(s.base, 'restored');
    const restored = await repoCli(['restore', id, target, ...s.sink]);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain(
      `failed: ${leaf.first}: the items from ${JSON.stringify(leaf.first)} up to ${JSON.stringify(leaf.next)} are unreadable (tree node ${leaf.id}`,
    );
    expect(describeTree(target)).toEqual(without(describeTree(s.src), lost));

    // The catalog leaves the snapshot out, with a warning, and keeps the others.
    const other = await repoCli(['backup', join(s.src, 'docs'), ...s.sink]);
    expect(other.code).toBe(0);
    const attached = await repoCli(['attach', ...s.sink], {
      HOLDFAST_DATA_DIR: join(s.base, 'appliance'),
      HOLDFAST_LOG_LEVEL: 'silent',
    });
    expect(attached.code).toBe(0);
    expect(attached.stdout).toMatch(/: 1 snapshots, /);
    expect(attached.stderr).toContain(`snapshot ${id} is unreadable and was skipped (blob ${leaf.id}`);

    // The next backup cannot carry items over from it: it reads the folder whole instead, and
    // stores a fresh copy of the damaged node rather than referring to it.
    const next = await repoCli(['backup', s.src, ...s.sink]);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`warning: the previous snapshot ${id} cannot be read (blob ${leaf.id}`);
    const whole = join(s.base, 'whole');
    expect((await repoCli(['restore', next.stdout.trim(), whole, ...s.sink])).code).toBe(0);
    expect(describeTree(whole)).toEqual(describeTree(s.src));
  });

  it('--resume keeps complete files and replaces a changed one', { timeout: 180_000 }, async () => {
    const s = await setUp();
    const id = await backup(s);
    const target = join(s.base, 'restored');
    expect((await repoCli(['restore', id, target, ...s.sink])).code).toBe(0);
    // Same size, other bytes: only a content check tells.
    const changed = join(target, 'files', 'f-007.bin');
    writeFileSync(changed, randomBytes(5000));
    rmSync(join(target, 'files', 'f-300.bin'));
    const resumed = await repoCli(['restore', '--resume', id, target, ...s.sink]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^Restored \d+ items into .*; \d+ were already complete\.\n$/);
    expect(describeTree(target)).toEqual(describeTree(s.src));
  });

  it('survives SIGKILL at 5 points of a restore; --resume then completes it exactly', {
    timeout: 180_000,
  }, async () => {
    const s = await setUp();
    for (let i = 0; i < 6; i++) writeFileSync(join(s.src, `large-${i}.bin`), randomBytes(2 * 1024 * 1024));
    setXattrs([
      { path: rawJoin(s.src, 'docs'), name: 'user.folder', value: Buffer.from('kept across the kill') },
      { path: rawJoin(s.src, 'large-3.bin'), name: 'user.file', value: Buffer.from('set before the rename') },
    ]);
    const id = await backup(s);
    const source = describeTree(s.src);
    const exact = describeFidelity(s.src);
    const args = (target: string, resume = false) => [
      'core/cli.ts',
      'repo',
      'restore',
      ...(resume ? ['--resume'] : []),
      id,
      target,
      ...s.sink,
    ];
    // An uninterrupted run counts the file-system events a restore makes in its target; the kill
    // points are spread over them, so each one lands while the restore writes, whatever the
    // machine's speed.
    const clean = join(s.base, 'clean');
    mkdirSync(clean);
    const whole = await runWatchingWrites(args(clean), env(), clean);
    expect(whole.exit).toBe(0);
    expect(whole.events).toBeGreaterThan(12);

    // A recursive watch sees a new folder's events only once it watches it, so runs differ in
    // events: a run that ends before its point is done again with the point drawn from its count.
    let most = whole.events;
    for (let point = 0; point < 5; point++) {
      const target = join(s.base, `restore-${point}`);
      let run: Awaited<ReturnType<typeof runWatchingWrites>> | undefined;
      for (let attempt = 0; attempt < 5 && run?.exit !== 'SIGKILL'; attempt++) {
        rmSync(target, { recursive: true, force: true });
        mkdirSync(target);
        run = await runWatchingWrites(args(target), env(), target, Math.ceil((most * (point + 1)) / 6));
        if (run.exit !== 'SIGKILL') most = Math.min(most, run.events);
      }
      expect(run?.exit, `kill point ${point + 1} of 5`).toBe('SIGKILL');
      // Whatever is under a real name is whole: its bytes are the source's.
      const partial = describeTree(target);
      for (const [key, what] of Object.entries(partial)) {
        if (what.startsWith('file ') && !key.split('/').pop()?.startsWith('.holdfast-restore-'))
          expect(readFileSync(join(target, key)).equals(readFileSync(join(s.src, key)))).toBe(true);
      }
      const resumed = await runToEnd(args(target, true), env());
      expect(resumed.code).toBe(0);
      expect(describeTree(target)).toEqual(source);
      // Exact: every file's bytes, and every entry's mode, owner, mtime (ns, within the documented
      // bound), link target and attributes, folders included.
      expect(fidelityDifferences(exact, describeFidelity(target)), `kill point ${point + 1} of 5`).toEqual([]);
    }
  });
});

describe('repair snapshots', () => {
  it('rewrites a snapshot without its damaged tree node and blob, marked repaired; --forget removes the original', {
    timeout: 90_000,
  }, async () => {
    const s = await setUp();
    const id = await backup(s);
    const repo = await openLocal(s.sinkPath);
    const manifest = await repo.loadSnapshot(id);
    const leaf = await middleLeaf(repo, manifest.tree);
    const lost = leaf.keys;
    const file = await findItem(repo, manifest.tree, 'files/f-399.bin');
    repo.close();
    expect(lost).not.toContain('files/f-399.bin');
    await damageBlob(s.sinkPath, leaf.id);
    await damageBlob(s.sinkPath, file?.content?.[0] as string);

    const repaired = await repoCli(['repair', 'snapshots', '--read-data', '--forget', ...s.sink]);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain(`snapshot ${id}: ${lost.length + 1} damaged item(s) dropped`);
    expect(repaired.stdout).toContain('dropped files/f-399.bin: blob');
    const list = JSON.parse((await repoCli(['snapshots', '--json', ...s.sink])).stdout) as {
      id: string;
      tags?: string[];
      original?: string;
      stats: { items: number };
    }[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      tags: ['repaired'],
      original: id,
      stats: { items: manifest.stats.items - lost.length - 1 },
    });
    expect(snapshotFiles(s)).toEqual([list[0]?.id]);

    const target = join(s.base, 'restored');
    expect((await repoCli(['restore', list[0]?.id as string, target, ...s.sink])).code).toBe(0);
    expect(describeTree(target)).toEqual(without(describeTree(s.src), [...lost, 'files/f-399.bin']));
    // Nothing left to repair.
    const clean = await repoCli(['repair', 'snapshots', '--read-data', ...s.sink]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('1 snapshot(s) checked: 1 intact');
  });
});

describe('repair of a layered snapshot', () => {
  it('drops the keys of a damaged delta node from the base too: no stale version comes back', {
    timeout: 180_000,
  }, async () => {
    const t = await createTestRepo();
    cleanups.push(t.cleanup);
    const opts = { task: 'records', entity: 'Account', mode: 'incremental' as const, layered: true };
    const key = (i: number) => `rec-${String(i).padStart(5, '0')}`;
    const w1 = new SnapshotWriter(t.repo, opts);
    for (let i = 0; i < 2000; i++) await w1.add({ key: key(i), kind: 'record' }, Buffer.from(`v0 ${i}`));
    const s1 = await w1.commit();
    const w2 = new SnapshotWriter(t.repo, { ...opts, parent: s1.id });
    for (let i = 0; i < 2000; i += 5) await w2.add({ key: key(i), kind: 'record' }, Buffer.from(`v1 ${i}`));
    for (let i = 1; i < 2000; i += 50) await w2.delete(key(i));
    const s2 = await w2.commit();
    expect(s2.manifest.layers).toHaveLength(1);

    const delta = s2.manifest.layers?.[0] as string;
    const leaf = await middleLeaf(t.repo, delta);
    const from = leaf.first;
    const to = leaf.next as string;
    const expected = new Map<string, string>();
    const reader = await SnapshotReader.open(t.repo, s2.id);
    for await (const item of reader.items())
      if (item.key < from || item.key >= to) expected.set(item.key, (await readAll(reader.content(item))).toString());
    await damageBlob(join(t.root, 'sink'), leaf.id);

    const repo = await t.reopen();
    const report = await repairSnapshots(repo, { forget: true });
    expect(report).toMatchObject({ checked: 2, intact: 1, unreadable: [] });
    const repaired = report.rewritten[0];
    expect(repaired?.id).toBe(s2.id);
    const manifest = await repo.loadSnapshot(repaired?.newId as string);
    expect(manifest).toMatchObject({ tags: ['repaired'], original: s2.id, stats: { items: expected.size } });
    expect(manifest.layers).toBeUndefined();
    const state = new Map<string, string>();
    const after = await SnapshotReader.open(repo, repaired?.newId as string);
    for await (const item of after.items()) state.set(item.key, (await readAll(after.content(item))).toString());
    expect(state).toEqual(expected);
  });
});
