// A damaged or missing index never costs a snapshot: the repository falls back to the packs'
// own trailers (warning which index file it could not read), `rebuild-index` rewrites the index
// from the trailers alone, and verify names what is wrong and what only needs a rebuild.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GetOptions, Sink } from '../../../core/plugins/sink.ts';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { backupDirectory, restoreSnapshot } from '../../../storage/filesystem.ts';
import { withLock } from '../../../storage/locks.ts';
import { rebuildIndex } from '../../../storage/rebuild-index.ts';
import { Repository } from '../../../storage/repository.ts';
import { verifyRepository } from '../../../storage/verify.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { describeTree, makeSource } from '../../helpers/source-tree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-index-recovery-'));
  dirs.push(d);
  return d;
}

const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, HOLDFAST_REPO_PASSPHRASE: PASSPHRASE });
const repoCli = (args: string[]) => runToEnd(['core/cli.ts', 'repo', ...args], env());

/** A source folder and a repository holding one backup of it (small packs: many of them). */
async function backedUp(): Promise<{ base: string; src: string; sinkPath: string; snapshot: string }> {
  const base = temp();
  const src = join(base, 'src');
  mkdirSync(src);
  makeSource(src);
  const sinkPath = join(base, 'repo');
  const sink = new LocalSink({ path: sinkPath });
  const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
  const { id } = await withLock(
    sink,
    'shared',
    { purpose: 'test' },
    () => backupDirectory(repo, src, { task: 't', entity: 'src' }),
    repo,
  );
  repo.close();
  return { base, src, sinkPath, snapshot: id };
}

const indexFiles = (sinkPath: string) => readdirSync(join(sinkPath, 'index')).map((n) => join(sinkPath, 'index', n));

function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(path, bytes);
}

/** Opens the repository as a new process would, collecting its warnings. */
async function open(sinkPath: string, sink: Sink = new LocalSink({ path: sinkPath })) {
  const warnings: string[] = [];
  const repo = await Repository.open(sink, { passphrase: PASSPHRASE }, { onWarning: (m) => warnings.push(m) });
  return { repo, warnings };
}

/** Restores a snapshot and a new backup of the changed source, both checked byte for byte. */
async function restoreAndBackUp(repo: Repository, base: string, src: string, snapshot: string, round: string) {
  const target = join(base, `restored-${round}`);
  await restoreSnapshot(repo, snapshot, target);
  expect(describeTree(target)).toEqual(describeTree(src));
  writeFileSync(join(src, `new-${round}.txt`), `added in ${round}\n`);
  const { id } = await withLock(
    repo.sink,
    'shared',
    { purpose: 'test' },
    () => backupDirectory(repo, src, { task: 't', entity: 'src', parent: snapshot }),
    repo,
  );
  const fresh = (await open(repo.sink instanceof LocalSink ? repo.sink.root : '')).repo;
  const again = join(base, `restored-${round}-new`);
  await restoreSnapshot(fresh, id, again);
  expect(describeTree(again)).toEqual(describeTree(src));
  return id;
}

/** Records every ranged read of a pack, to prove that only the packs' tails are read. */
function recordingSink(inner: LocalSink, reads: { key: string; offset: number; length: number | undefined }[]): Sink {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'get')
        return (key: string, options?: GetOptions) => {
          if (key.startsWith('data/')) reads.push({ key, offset: options?.offset ?? 0, length: options?.length });
          return target.get(key, options);
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('index damage', () => {
  it('a flipped byte in an index file: a warning names it, restore and backup work, rebuild-index heals it', async () => {
    const { base, src, sinkPath, snapshot } = await backedUp();
    const [damaged] = indexFiles(sinkPath) as [string];
    flipByte(damaged, 100);
    const name = `index/${damaged.split('/').pop()}`;

    const { repo, warnings } = await open(sinkPath);
    await restoreAndBackUp(repo, base, src, snapshot, 'flipped');
    expect(warnings.join('\n')).toContain(name);

    const before = await verifyRepository((await open(sinkPath)).repo);
    expect(before.problems.map((p) => p.object)).toContain(name);
    expect(before.problems.find((p) => p.object === name)?.message).toMatch(/rebuild-index/);

    const healed = (await open(sinkPath)).repo;
    const report = await withLock(healed.sink, 'exclusive', { purpose: 'rebuild-index' }, () => rebuildIndex(healed));
    expect(report.problems).toEqual([]);
    expect(indexFiles(sinkPath).map((p) => `index/${p.split('/').pop()}`)).not.toContain(name);
    const after = await open(sinkPath);
    const verified = await verifyRepository(after.repo, { readDataPercent: 100 });
    expect(verified.problems).toEqual([]);
    expect(verified.orphanPacks).toEqual([]);
    expect(after.warnings).toEqual([]);
  });

  it('every index file deleted: restore and backup work from the trailers; rebuild-index reads only pack tails', async () => {
    const { base, src, sinkPath, snapshot } = await backedUp();
    for (const file of indexFiles(sinkPath)) rmSync(file);

    const { repo } = await open(sinkPath);
    await restoreAndBackUp(repo, base, src, snapshot, 'deleted');
    for (const file of indexFiles(sinkPath)) rmSync(file);

    // Before the rebuild, verify names the packs that snapshots need but no index names.
    const before = await verifyRepository((await open(sinkPath)).repo);
    expect(before.problems.length).toBeGreaterThan(0);
    for (const p of before.problems) {
      expect(p.object).toMatch(/^pack [0-9a-f]{64}$/);
      expect(p.message).toMatch(/no index file names it.*rebuild-index/);
    }

    const reads: { key: string; offset: number; length: number | undefined }[] = [];
    const sink = recordingSink(new LocalSink({ path: sinkPath }), reads);
    const rebuilt = (await open(sinkPath, sink)).repo;
    const report = await withLock(sink, 'exclusive', { purpose: 'rebuild-index' }, () => rebuildIndex(rebuilt));
    expect(report.problems).toEqual([]);
    const sizes = new Map<string, number>();
    for await (const info of new LocalSink({ path: sinkPath }).list('data/')) sizes.set(info.key, info.size);
    expect(report.packs).toBe(sizes.size);
    expect(new Set(reads.map((r) => r.key)).size).toBe(sizes.size);
    for (const read of reads) {
      // A ranged read inside the last 64 KiB of the pack (its index and trailer), never the whole pack.
      expect(read.length).toBeDefined();
      expect(read.offset).toBeGreaterThanOrEqual(Math.max(0, (sizes.get(read.key) as number) - 64 * 1024));
    }
    const verified = await verifyRepository((await open(sinkPath)).repo, { readDataPercent: 100 });
    expect(verified.problems).toEqual([]);
    expect(verified.orphanPacks).toEqual([]);
  });
});

describe('holdfast repo with a damaged index', () => {
  it('restores and backs up past a flipped byte and no index at all; rebuild-index; verify --read-data clean', async () => {
    const { base, src, sinkPath, snapshot } = await backedUp();
    const sink = ['--sink', 'local', '--path', sinkPath];
    const [damaged] = indexFiles(sinkPath) as [string];
    flipByte(damaged, 60);
    const name = `index/${damaged.split('/').pop()}`;

    const restored = await repoCli(['restore', snapshot, join(base, 'r1'), ...sink]);
    expect(restored.code).toBe(0);
    expect(restored.stderr).toContain(name);
    expect(describeTree(join(base, 'r1'))).toEqual(describeTree(src));
    writeFileSync(join(src, 'more.txt'), 'more\n');
    const backup = await repoCli(['backup', src, '--task', 't', '--entity', 'src', ...sink]);
    expect(backup.code).toBe(0);

    const verify = await repoCli(['verify', ...sink]);
    expect(verify.code).toBe(5);
    expect(verify.stdout).toContain(`PROBLEM ${name}:`);
    expect(verify.stdout).toContain('holdfast repo rebuild-index');

    const rebuild = await repoCli(['rebuild-index', ...sink]);
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout).toMatch(
      /^Rebuilt the index from \d+ packs: \d+ blobs in 1 index file\(s\); removed \d+ old index file\(s\)\.$/m,
    );
    const clean = await repoCli(['verify', '--read-data', ...sink]);
    expect(clean.stderr).not.toContain('warning');
    expect(clean.stdout).toMatch(/no problems\n$/);
    expect(clean.code).toBe(0);

    for (const file of indexFiles(sinkPath)) rmSync(file);
    const second = backup.stdout.trim();
    const again = await repoCli(['restore', second, join(base, 'r2'), ...sink]);
    expect(again.code).toBe(0);
    expect(describeTree(join(base, 'r2'))).toEqual(describeTree(src));
    expect((await repoCli(['backup', src, '--task', 't', '--entity', 'src', ...sink])).code).toBe(0);
    expect((await repoCli(['rebuild-index', ...sink])).code).toBe(0);
    const cleanAgain = await repoCli(['verify', '--read-data', ...sink]);
    expect(cleanAgain.stdout).toMatch(/no problems\n$/);
    expect(cleanAgain.code).toBe(0);
  });

  it('a repository path that is a file says so (exit 4)', async () => {
    const base = temp();
    const file = join(base, 'a-file');
    writeFileSync(file, 'not a folder');
    for (const command of [['snapshots'], ['init'], ['verify'], ['unlock']]) {
      const run = await repoCli([...command, '--sink', 'local', '--path', file]);
      expect(run.stderr).toContain(`holdfast repo: local:${file} is a file, not a folder`);
      expect(run.code).toBe(4);
    }
    const empty = await repoCli(['unlock', '--sink', 'local', '--path', join(base, 'nothing-here')]);
    expect(empty.stderr).toContain('holds no Holdfast repository');
    expect(empty.code).toBe(4);
  });
});
