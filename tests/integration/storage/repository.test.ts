import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrInitRepository } from '../../../core/tasks/storage.ts';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { IntegrityError } from '../../../storage/crypto.ts';
import { packKey } from '../../../storage/pack.ts';
import { MARKER_KEY, Repository, RepositoryError } from '../../../storage/repository.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { generated } from '../../conformance/sink-conformance.ts';
import { createTestRepo, PASSPHRASE, readAll, SMALL, type TestRepo } from '../../helpers/repository.ts';

const repos: TestRepo[] = [];
afterEach(() => {
  for (const r of repos.splice(0)) r.cleanup();
});
async function fresh(): Promise<TestRepo> {
  const r = await createTestRepo();
  repos.push(r);
  return r;
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('repository lifecycle', () => {
  it('opens with the passphrase, refuses a wrong one, a second init and an empty location', async () => {
    const t = await fresh();
    const again = await t.reopen();
    expect(again.id).toBe(t.repo.id);
    await expect(Repository.open(t.sink, { passphrase: 'nope' })).rejects.toMatchObject({ code: 'wrong_passphrase' });
    await expect(Repository.init(t.sink, { passphrase: 'x' })).rejects.toMatchObject({ code: 'exists' });
    const empty = new LocalSink({ path: join(t.root, 'empty') });
    await expect(Repository.open(empty, { passphrase: PASSPHRASE })).rejects.toBeInstanceOf(RepositoryError);
    await expect(Repository.open(empty, { passphrase: PASSPHRASE })).rejects.toMatchObject({
      code: 'not_a_repository',
    });
  });

  it('adds and removes passphrases without rewriting data, never the last one', async () => {
    const t = await fresh();
    const [first] = await t.repo.listKeys();
    await t.repo.addKey({ passphrase: 'second passphrase' });
    await t.repo.removeKey(first as string);
    await expect(Repository.open(t.sink, { passphrase: PASSPHRASE })).rejects.toMatchObject({
      code: 'wrong_passphrase',
    });
    const opened = await Repository.open(t.sink, { passphrase: 'second passphrase' });
    const [only] = await opened.listKeys();
    await expect(opened.removeKey(only as string)).rejects.toThrow(/only key/);
  });
});

describe('snapshots round trip', () => {
  it('restores every item byte for byte with its metadata, from a freshly opened repository', async () => {
    const t = await fresh();
    const big = generated(3 * 1024 * 1024 + 17, 7);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 200; i++) files.set(`docs/file-${i}.txt`, randomBytes(i * 37));
    files.set('Übersicht/报告 📊.csv', Buffer.from('a,b\n1,2\n'));
    files.set(`${'deep/'.repeat(30)}leaf.bin`, randomBytes(5000));
    files.set('empty', Buffer.alloc(0));
    const w = new SnapshotWriter(t.repo, { task: 'task-1', entity: 'member-1' });
    for (const [key, body] of [...files].reverse()) {
      await w.add(
        { key, kind: 'file', meta: { path: `/${key}`, modified: '2026-01-02T03:04:05Z', author: 'ana' } },
        body,
      );
    }
    await w.add({ key: 'videos/big.mov', kind: 'file', meta: { rev: 'r1' } }, big.stream());
    await w.add({ key: 'folder', kind: 'folder' });
    const { id, manifest } = await w.commit();
    expect(manifest.stats.items).toBe(files.size + 2);

    const repo = await t.reopen();
    const snapshots = await repo.listSnapshots();
    expect(snapshots.map((s) => s.id)).toEqual([id]);
    const reader = await SnapshotReader.open(repo, id);
    const keys: string[] = [];
    for await (const item of reader.items()) {
      keys.push(item.key);
      if (item.kind === 'folder') continue;
      const body = await readAll(reader.content(item));
      if (item.key === 'videos/big.mov') {
        expect(sha(body)).toBe(big.sha256);
        expect(item.meta).toEqual({ rev: 'r1' });
      } else {
        expect(body.equals(files.get(item.key) as Buffer)).toBe(true);
        expect(item.meta).toEqual({ path: `/${item.key}`, modified: '2026-01-02T03:04:05Z', author: 'ana' });
      }
      expect(item.size).toBe(body.length);
    }
    expect(keys).toEqual([...keys].sort());
    expect(keys).toHaveLength(files.size + 2);
    expect((await reader.item('docs/file-5.txt'))?.size).toBe(5 * 37);
    expect(await reader.item('docs/missing')).toBeUndefined();
  });

  it('uploads almost nothing for unchanged data, and about one chunk for a small change', async () => {
    const t = await fresh();
    const size = 16 * 1024 * 1024;
    const original = Buffer.from(await readAll(generated(size, 3).stream()));
    const first = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    await first.add({ key: 'big', kind: 'file' }, original);
    const { id: firstId } = await first.commit();

    const again = await t.reopen();
    const second = new SnapshotWriter(again, { task: 't', entity: 'e', parent: firstId });
    await second.add({ key: 'big', kind: 'file' }, original);
    await second.commit();
    expect(again.stats.bytesUploaded).toBeLessThan(size / 100);

    const edited = Buffer.from(original);
    randomBytes(64 * 1024).copy(edited, 5 * 1024 * 1024);
    const third = await t.reopen();
    const w = new SnapshotWriter(third, { task: 't', entity: 'e', parent: firstId });
    await w.add({ key: 'big', kind: 'file' }, edited);
    const { id } = await w.commit();
    expect(third.stats.bytesUploaded).toBeLessThan(1024 * 1024);
    const body = await readAll(
      (await SnapshotReader.open(third, id)).content(
        (await (await SnapshotReader.open(third, id)).item('big')) as never,
      ),
    );
    expect(body.equals(edited)).toBe(true);
  });

  it('keeps a collection of records incrementally: carry-over, changes, deletions, full state and diff', async () => {
    const t = await fresh();
    const record = (i: number, v = 0) =>
      Buffer.from(JSON.stringify({ Id: `001${String(i).padStart(12, '0')}`, Name: `Account ${i}`, v }));
    const w1 = new SnapshotWriter(t.repo, { task: 'sf', entity: 'Account', sortMemoryBytes: 256 * 1024 });
    for (let i = 0; i < 5000; i++)
      await w1.add({ key: `001${String(i).padStart(12, '0')}`, kind: 'record' }, record(i));
    const s1 = await w1.commit();
    const firstBytes = t.repo.stats.bytesUploaded;

    const repo = await t.reopen();
    const w2 = new SnapshotWriter(repo, { task: 'sf', entity: 'Account', parent: s1.id, mode: 'incremental' });
    const changed = [3, 1000, 4999];
    for (const i of changed) await w2.add({ key: `001${String(i).padStart(12, '0')}`, kind: 'record' }, record(i, 1));
    await w2.delete(`001${String(42).padStart(12, '0')}`);
    await w2.add({ key: '001999999999999', kind: 'record' }, record(999999999999));
    const s2 = await w2.commit();
    // Five touched keys rewrite at most their leaves and the nodes above them; the other leaves dedup.
    expect(repo.stats.blobsAdded).toBeLessThanOrEqual(10);
    expect(repo.stats.bytesUploaded).toBeLessThan(firstBytes * 0.25);

    const r1 = await SnapshotReader.open(repo, s1.id);
    const r2 = await SnapshotReader.open(repo, s2.id);
    let count = 0;
    for await (const item of r2.items()) {
      count++;
      const body = JSON.parse((await readAll(r2.content(item))).toString());
      expect(body.v).toBe(changed.map((i) => `001${String(i).padStart(12, '0')}`).includes(item.key) ? 1 : 0);
    }
    expect(count).toBe(5000);
    const changes: string[] = [];
    for await (const c of r1.diff(r2)) changes.push(`${c.change} ${c.key}`);
    expect(changes).toEqual([
      'modified 001000000000003',
      'removed 001000000000042',
      'modified 001000000001000',
      'modified 001000000004999',
      'added 001999999999999',
    ]);
  });

  it('carries over unchanged items without reading them, and refuses to carry what the parent lacks', async () => {
    const t = await fresh();
    const w1 = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    await w1.add({ key: 'a', kind: 'file' }, randomBytes(100_000));
    await w1.add({ key: 'b', kind: 'file' }, Buffer.from('bee'));
    const s1 = await w1.commit();
    // A fresh repository object (no blob cached from the write), whose every sink read is seen.
    const repo = await t.reopen();
    const reads: { key: string; offset: number; length: number }[] = [];
    const get = repo.sink.get.bind(repo.sink);
    repo.sink.get = async (key, options) => {
      reads.push({ key, offset: options?.offset ?? 0, length: options?.length ?? Number.POSITIVE_INFINITY });
      return get(key, options);
    };
    const w2 = new SnapshotWriter(repo, { task: 't', entity: 'e', parent: s1.id });
    await w2.carryOver('a');
    const s2 = await w2.commit();
    // No read touched a byte of a's content blobs (the parent's trees may be read).
    const contentOfA = (await (await SnapshotReader.open(t.repo, s1.id)).item('a'))?.content ?? [];
    expect(contentOfA.length).toBeGreaterThan(0);
    expect(reads.length).toBeGreaterThan(0);
    for (const id of contentOfA) {
      const at = repo.locate(id);
      if (!at) throw new Error(`blob ${id} is not indexed`);
      const touching = reads.filter(
        (r) => r.key === packKey(at.pack) && r.offset < at.offset + at.length && at.offset < r.offset + r.length,
      );
      expect(touching, `reads of a's blob ${id}`).toEqual([]);
    }
    const r = await SnapshotReader.open(repo, s2.id);
    const keys: string[] = [];
    for await (const i of r.items()) keys.push(i.key);
    expect(keys).toEqual(['a']); // full mode: b was not mentioned, so it is gone
    const before = await SnapshotReader.open(repo, s1.id);
    expect(await r.item('a')).toEqual(await before.item('a'));

    const w3 = new SnapshotWriter(repo, { task: 't', entity: 'e', parent: s2.id });
    await w3.carryOver('zzz');
    await expect(w3.commit()).rejects.toThrow(/parent snapshot has no such item/);
  });
});

describe('corruption is detected and named', () => {
  async function backedUp() {
    const t = await fresh();
    const w = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 40; i++) {
      const body = randomBytes(200_000);
      bodies.set(`f${i}`, body);
      await w.add({ key: `f${i}`, kind: 'file' }, body);
    }
    const { id } = await w.commit();
    return { t, id, bodies };
  }

  it('a flipped byte in a pack fails only the blobs it touches', async () => {
    const { t, id, bodies } = await backedUp();
    const repo = await t.reopen();
    const reader = await SnapshotReader.open(repo, id);
    const victim = (await reader.item('f7'))?.content?.[0] as string;
    const at = repo.locate(victim);
    if (!at) throw new Error('blob not indexed');
    const path = t.sink.pathOf(packKey(at.pack));
    const bytes = readFileSync(path);
    bytes[at.offset + 100] = (bytes[at.offset + 100] as number) ^ 0xff;
    writeFileSync(path, bytes);
    await expect(readAll(reader.content((await reader.item('f7')) as never))).rejects.toThrow(
      new IntegrityError(
        `blob ${victim} in pack ${at.pack} failed authentication (corrupted, or encrypted with another key)`,
      ),
    );
    let intact = 0;
    for await (const item of reader.items()) {
      if (item.content?.some((c) => repo.locate(c)?.pack === at.pack)) continue;
      expect((await readAll(reader.content(item))).equals(bodies.get(item.key) as Buffer)).toBe(true);
      intact++;
    }
    expect(intact).toBeGreaterThan(0);
  });

  it('a missing pack and a truncated pack are reported by name', async () => {
    const { t, id } = await backedUp();
    const repo = await t.reopen();
    const reader = await SnapshotReader.open(repo, id);
    const a = repo.locate((await reader.item('f1'))?.content?.[0] as string);
    const b = repo.locate((await reader.item('f30'))?.content?.[0] as string);
    if (!a || !b || a.pack === b.pack) throw new Error('test needs two packs');
    await t.sink.delete(packKey(a.pack));
    await expect(readAll(reader.content((await reader.item('f1')) as never))).rejects.toThrow(
      `pack ${a.pack} (holding blob`,
    );
    const path = t.sink.pathOf(packKey(b.pack));
    writeFileSync(path, readFileSync(path).subarray(0, b.offset + 10));
    await expect(readAll(reader.content((await reader.item('f30')) as never))).rejects.toThrow(IntegrityError);
  });

  it('a pack lists its own blobs in its trailer', async () => {
    const { t } = await backedUp();
    const repo = await t.reopen();
    await repo.loadIndex();
    for await (const info of t.sink.list('data/')) {
      const packId = info.key.split('/').pop() as string;
      const blobs = await repo.readPackIndex(packId, info.size);
      for (const blob of blobs)
        expect(repo.locate(blob.id)).toMatchObject({ pack: packId, offset: blob.offset, length: blob.length });
    }
  });
});

describe('packing', () => {
  it('fills packs to the target size', async () => {
    const t = await fresh();
    const w = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    await w.add({ key: 'x', kind: 'file' }, generated(8 * 1024 * 1024, 9).stream());
    await w.commit();
    const sizes: number[] = [];
    for await (const info of t.sink.list('data/')) sizes.push(info.size);
    expect(sizes.length).toBeGreaterThanOrEqual(7);
    expect(sizes.filter((s) => s >= (SMALL.packSize as number)).length).toBeGreaterThanOrEqual(sizes.length - 2);
  });
});

describe("a task's repository opened or created by jobs starting together", () => {
  it('is created once and opened by every job, none told the location holds no repository', async () => {
    const t = await fresh();
    const empty = new LocalSink({ path: join(t.root, 'first-backups') });
    const opened = await Promise.all(
      Array.from({ length: 4 }, () => openOrInitRepository(empty, PASSPHRASE, { indexDir: t.root })),
    );
    expect(new Set(opened.map((r) => r.id)).size).toBe(1);
    for (const r of opened) r.close();
  });

  it('an init whose marker another job wrote first (opening the config it found) still succeeds', async () => {
    const t = await fresh();
    const sink = new LocalSink({ path: join(t.root, 'raced') });
    let other: Promise<Repository> | undefined;
    // The moment of the race, made certain: a second job opens the config before init's marker.
    const racing = Object.create(sink) as LocalSink;
    racing.put = async (key, body, options) => {
      if (key === MARKER_KEY && !other) {
        other = Repository.open(sink, { passphrase: PASSPHRASE }, { indexDir: t.root });
        await other;
      }
      return sink.put(key, body, options);
    };
    const created = await Repository.init(racing, { passphrase: PASSPHRASE, indexDir: t.root });
    const opened = await (other as Promise<Repository>);
    expect(opened.id).toBe(created.id);
    created.close();
    opened.close();
  });

  it('opens while a losing racing init deletes the key object it listed (nodes backing up a new tenant)', async () => {
    const t = await fresh();
    const sink = new LocalSink({ path: join(t.root, 'lost-init') });
    const created = await Repository.init(sink, { passphrase: PASSPHRASE, indexDir: t.root });
    // The loser of the init race wrote keys/<its key> and deletes it once its config write is
    // refused: an open lists it, and by the time it reads it, it is gone.
    const listing = Object.create(sink) as LocalSink;
    listing.list = async function* (prefix) {
      if (prefix === 'keys/') yield { key: `keys/${'0'.repeat(64)}`, size: 1 };
      yield* sink.list(prefix);
    };
    const opened = await Repository.open(listing, { passphrase: PASSPHRASE }, { indexDir: t.root });
    expect(opened.id).toBe(created.id);
    created.close();
    opened.close();
  });
});
