// A blob found damaged stays known (issue 14, restic-like): once `verify --read-data` or a restore
// has read a damaged copy, the repository records it, so the next backup — another process, with
// the file unchanged — stores that content again instead of deduplicating against the damaged
// copy, and the new snapshot restores completely. Later backups use the good copy and store
// nothing more. Everything runs through the `holdfast repo` CLI.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findItem } from '../../../storage/tree.ts';
import { damageBlob, openLocal } from '../../helpers/damage.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE } from '../../helpers/repository.ts';
import { describeTree, makeSource } from '../../helpers/source-tree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const repoCli = (args: string[]) =>
  runToEnd(['core/cli.ts', 'repo', ...args], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
  });

/** A source backed up once, with one content blob of big.bin damaged afterwards. */
async function damagedRepository(): Promise<{
  base: string;
  src: string;
  sink: string[];
  blob: string;
  first: string;
}> {
  const base = mkdtempSync(join(tmpdir(), 'holdfast-known-damage-'));
  dirs.push(base);
  const src = join(base, 'src');
  mkdirSync(src);
  makeSource(src);
  const sinkPath = join(base, 'repo');
  const sink = ['--sink', 'local', '--path', sinkPath];
  expect((await repoCli(['init', ...sink])).code).toBe(0);
  const backup = await repoCli(['backup', src, ...sink]);
  expect(backup.code).toBe(0);
  const first = backup.stdout.trim();
  const repo = await openLocal(sinkPath);
  const big = await findItem(repo, (await repo.loadSnapshot(first)).tree, 'big.bin');
  repo.close();
  // The first chunk: 3 MiB of random bytes is now and then one chunk only (no cut point found).
  const blob = big?.content?.[0] as string;
  await damageBlob(sinkPath, blob);
  return { base, src, sink, blob, first };
}

/** The next backups of the unchanged source: the first stores the damaged content again and restores whole. */
async function backupHeals(s: Awaited<ReturnType<typeof damagedRepository>>): Promise<void> {
  const next = await repoCli(['backup', s.src, ...s.sink]);
  expect(next.code).toBe(0);
  // big.bin is read again (not carried over), everything else is.
  expect(next.stderr).toMatch(/ items, \d+ bytes \((\d+) unchanged\), uploaded (\d+) bytes/);
  const target = join(s.base, 'restored');
  const restore = await repoCli(['restore', next.stdout.trim(), target, ...s.sink]);
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  expect(describeTree(target)).toEqual(describeTree(s.src));

  // The good copy is the one in use from now on: a further backup carries everything over and
  // stores no content again.
  const [, items, carried] = /^(\d+) items, \d+ bytes \((\d+) unchanged\)/m.exec(next.stderr) ?? [];
  const later = await repoCli(['backup', s.src, ...s.sink]);
  expect(later.code).toBe(0);
  const files = Object.values(describeTree(s.src)).filter((d) => d.startsWith('file ')).length;
  expect(Number(carried)).toBe(files - 1);
  expect(Number(items)).toBeGreaterThan(files);
  expect(later.stderr).toMatch(new RegExp(`\\(${files} unchanged\\)`));
}

describe('a blob found damaged is not deduplicated against by the next backup', () => {
  it('after verify --read-data named it', { timeout: 180_000 }, async () => {
    const s = await damagedRepository();
    const verify = await repoCli(['verify', '--read-data', ...s.sink]);
    expect(verify.code).toBe(5);
    expect(verify.stdout).toContain(s.blob);
    await backupHeals(s);
    // The content stored again under the same id heals the older snapshot too.
    const restoreOld = await repoCli(['restore', s.first, join(s.base, 'old'), ...s.sink]);
    expect(restoreOld.code).toBe(0);
  });

  it('after a restore failed on it', { timeout: 180_000 }, async () => {
    const s = await damagedRepository();
    const restore = await repoCli(['restore', s.first, join(s.base, 'failed'), ...s.sink]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/^failed: big\.bin: blob [0-9a-f]{64} in pack [0-9a-f]{64} failed authentication/m);
    await backupHeals(s);
  });
});
