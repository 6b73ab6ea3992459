// File-system fidelity of folder backups through the real `holdfast repo backup` / `restore`:
// raw-byte names, FIFOs and devices, owners, setuid, hard links, sparse files, symlink mtimes and
// nanosecond mtimes round-trip; sockets are recorded and named when not restored; snapshots
// written before these fields existed still restore. Runs as root (owners, mknod).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { withLock } from '../../../storage/locks.ts';
import { Repository } from '../../../storage/repository.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { findItem } from '../../../storage/tree.ts';
import { damageBlob } from '../../helpers/damage.ts';
import { describeFidelity, fidelityDifferences, makeFidelityTree, makeSocket } from '../../helpers/fidelity-tree.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE } from '../../helpers/repository.ts';

const dirs: string[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m]);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-fidelity-'));
  dirs.push(d);
  return d;
}

const repoCli = (args: string[]) =>
  runToEnd(['core/cli.ts', 'repo', ...args], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
  });

async function initRepo(base: string): Promise<string[]> {
  const sink = ['--sink', 'local', '--path', join(base, 'repo')];
  expect((await repoCli(['init', ...sink])).code).toBe(0);
  return sink;
}

describe('file-system fidelity of folder backups', () => {
  it('round-trips raw names, special files, owners, hard links, sparse files and ns mtimes exactly', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeFidelityTree(src);
    const sink = await initRepo(base);

    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.stderr).not.toContain('holdfast repo:');
    expect(backup.code).toBe(0);
    const id = backup.stdout.trim();

    // Names that are not UTF-8 are listed with their bytes escaped.
    const ls = await repoCli(['ls', id, ...sink]);
    expect(ls.stdout).toContain('caf\\xe9.txt');
    expect(ls.stdout).toContain('dir\\xed\\xa0\\x80/caf\\xe9.txt');
    expect(ls.stdout).toMatch(/^fifo +0 +pipe$/m);

    // The snapshot keeps the exact nanoseconds (a restore sets them through a double of seconds).
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const reader = await SnapshotReader.open(repo, id);
    const recorded = new Map<string, Record<string, unknown>>();
    for await (const item of reader.items()) recorded.set(item.key, item.meta ?? {});
    expect(recorded.get('plain/text.txt')?.mtimeNs).toBe('1700000000123456789');
    expect(recorded.get('shortcut')?.mtimeNs).toBe('1710000000555555555');

    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    const expected = describeFidelity(src);
    expect(expected.get('caf\\xe9.txt')?.kind).toBe('file');
    expect(expected.get('plain/linked')?.nlink).toBe(3);
    expect(fidelityDifferences(expected, describeFidelity(target))).toEqual([]);
    // And the restored sparse file really has holes: 12 KiB of data in 6 MiB.
    expect(statSync(join(target, 'sparse.img')).blocks * 512).toBeLessThanOrEqual(16 * 1024);
  });

  it('records a socket and names it when a restore leaves it out', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'a');
    makeSocket(join(src, 'daemon.sock'));
    const sink = await initRepo(base);
    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.code).toBe(0);
    const id = backup.stdout.trim();
    expect((await repoCli(['ls', id, ...sink])).stdout).toMatch(/^socket +0 +daemon\.sock$/m);

    const restore = await repoCli(['restore', id, join(base, 'restored'), ...sink]);
    expect(restore.code).toBe(0);
    expect(restore.stderr).toContain('daemon.sock: not restored: a socket is made by the program that listens on it');
    expect(restore.stdout).toMatch(/^Restored 1 items into .*; 1 not restored \(see above\)\.$/m);
    expect(describeFidelity(join(base, 'restored')).has('a.txt')).toBe(true);
  });

  it('restores snapshots written before owners, raw names and ns mtimes were recorded', async () => {
    const base = temp();
    const sink = await initRepo(base);
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const mtimeMs = Date.parse('2019-01-02T03:04:05.678Z');
    const id = await withLock(
      repo.sink,
      'shared',
      { purpose: 'test' },
      async () => {
        const writer = new SnapshotWriter(repo, { task: 'cli', entity: 'old' });
        await writer.add({ key: 'docs/', kind: 'folder', meta: { mode: 0o750, mtimeMs } });
        await writer.add(
          { key: 'docs/a.txt', kind: 'file', meta: { mode: 0o640, mtimeMs, ctimeMs: 1, ino: 2 } },
          Buffer.from('old'),
        );
        await writer.add({ key: 'link', kind: 'symlink', meta: { mode: 0o777, mtimeMs, target: 'docs/a.txt' } });
        return (await writer.commit()).id;
      },
      repo,
    );
    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.code).toBe(0);
    const restored = describeFidelity(target);
    const ns = BigInt(mtimeMs) * 1_000_000n;
    // Within the precision of a double of seconds (see fidelityDifferences).
    const near = (t: bigint | undefined) => t !== undefined && t - ns <= 250n && ns - t <= 250n;
    expect(restored.get('docs')?.mode).toBe(0o40750);
    expect(near(restored.get('docs')?.mtimeNs)).toBe(true);
    expect(restored.get('docs/a.txt')?.mode).toBe(0o100640);
    expect(near(restored.get('docs/a.txt')?.mtimeNs)).toBe(true);
    expect(restored.get('link')?.kind).toBe('symlink');
  });
});

// Restores write each file under a temporary name and rename it when complete (restore past
// damage, --resume): the metadata above must survive that path too.
describe('fidelity with restore past damage and --resume', () => {
  it('a damaged file fails with its hard links, a socket is named, and the rest is exact', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeFidelityTree(src);
    makeSocket(join(src, 'daemon.sock'));
    writeFileSync(join(src, 'plain', 'big-linked'), randomBytes(64 * 1024));
    linkSync(join(src, 'plain', 'big-linked'), join(src, 'big-linked-too'));
    const sink = await initRepo(base);
    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.code).toBe(0);
    const id = backup.stdout.trim();
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const big = await findItem(repo, (await repo.loadSnapshot(id)).tree, 'big-linked-too');
    repo.close();
    await damageBlob(join(base, 'repo'), big?.content?.[0] as string);

    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(
      /^failed: big-linked-too: blob [0-9a-f]{64} in pack [0-9a-f]{64} failed authentication/m,
    );
    expect(restore.stderr).toContain('failed: plain/big-linked: a hard link to big-linked-too\n');
    expect(restore.stderr).toContain('daemon.sock: not restored: a socket is made by the program that listens on it');
    expect(restore.stdout).toMatch(/; 1 not restored \(see above\); 2 items could not be restored /);
    const expected = describeFidelity(src);
    for (const gone of ['daemon.sock', 'big-linked-too', 'plain/big-linked']) expected.delete(gone);
    expect(fidelityDifferences(expected, describeFidelity(target))).toEqual([]);
  });

  it('--resume keeps complete sparse files and links, and rewrites a changed one with its holes', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeFidelityTree(src);
    const sink = await initRepo(base);
    const id = (await repoCli(['backup', src, ...sink])).stdout.trim();
    const target = join(base, 'restored');
    expect((await repoCli(['restore', id, target, ...sink])).code).toBe(0);

    // Nothing changed: the sparse file is kept, not rewritten (same inode).
    const sparse = join(target, 'sparse.img');
    const before = statSync(sparse).ino;
    const again = await repoCli(['restore', '--resume', id, target, ...sink]);
    expect(again.code).toBe(0);
    expect(statSync(sparse).ino).toBe(before);

    // The sparse file made dense with other bytes, and one name of a hard-linked file removed.
    writeFileSync(sparse, randomBytes(6 * 1024 * 1024));
    rmSync(join(target, 'linked-too'));
    const resumed = await repoCli(['restore', '--resume', id, target, ...sink]);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/; \d+ were already complete\.\n$/);
    expect(fidelityDifferences(describeFidelity(src), describeFidelity(target))).toEqual([]);
    expect(statSync(sparse).blocks * 512).toBeLessThanOrEqual(16 * 1024);
  });
});

/** A small tmpfs at a new folder (tests run as root): a full disk or a read-only file system. */
function mountTmpfs(options: string): string {
  const at = join(temp(), 'mnt');
  mkdirSync(at);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]);
  mounts.push(at);
  return at;
}

describe('names that are not UTF-8 in the catalog', () => {
  it('attaches a repository whose names differ only in bytes that are not UTF-8', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(Buffer.from(`${src}/caf\xe9.txt`, 'latin1'), 'e acute');
    writeFileSync(Buffer.from(`${src}/caf\xe8.txt`, 'latin1'), 'e grave');
    const sink = await initRepo(base);
    expect((await repoCli(['backup', src, ...sink])).code).toBe(0);
    const attach = await runToEnd(['core/cli.ts', 'repo', 'attach', ...sink], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
      HOLDFAST_DATA_DIR: join(base, 'appliance'),
      HOLDFAST_LOG_LEVEL: 'silent',
    });
    expect(attach.stderr).not.toContain('holdfast repo:');
    expect(attach.code).toBe(0);
    expect(attach.stdout).toMatch(/: 1 snapshots, 2 items, 2 versions in the catalog\.\n$/);
  });
});

describe('restore target errors', () => {
  it('says a read-only target is read-only and a full disk names the file it could not write', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(join(src, 'docs'), { recursive: true });
    writeFileSync(join(src, 'docs', 'small.txt'), 'small');
    writeFileSync(join(src, 'docs', 'large.bin'), randomBytes(2 * 1024 * 1024));
    const sink = await initRepo(base);
    const id = (await repoCli(['backup', src, ...sink])).stdout.trim();

    const readOnly = mountTmpfs('size=1m,ro');
    for (const target of [readOnly, join(readOnly, 'new-folder')]) {
      const restore = await repoCli(['restore', id, target, ...sink]);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toBe(`holdfast repo: cannot restore into ${target}: it is on a read-only file system\n`);
    }

    const full = mountTmpfs('size=1m');
    const restore = await repoCli(['restore', id, join(full, 'r'), ...sink]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toBe(
      `holdfast repo: cannot write ${join(full, 'r', 'docs', 'large.bin')}: no space left on device\n`,
    );
  });
});
