// Large streams: a multi-GB item goes in and out without being held in memory, and a 1 MiB
// change inside a 1 GiB file uploads a few chunks, not the file.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

let t: TestRepo;
afterEach(() => t?.cleanup());

const MiB = 1024 * 1024;

/** Deterministic incompressible bytes, optionally with `patch` written at `at`; generated as read. */
function* bytes(size: number, seed: string, patch?: { at: number; data: Buffer }): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  for (let offset = 0; offset < size; offset += zeros.length) {
    const chunk = cipher.update(zeros.subarray(0, Math.min(zeros.length, size - offset)));
    if (patch && patch.at < offset + chunk.length && patch.at + patch.data.length > offset) {
      const from = Math.max(patch.at, offset);
      const to = Math.min(patch.at + patch.data.length, offset + chunk.length);
      patch.data.copy(chunk, from - offset, from - patch.at, to - patch.at);
    }
    yield chunk;
  }
}

function sha(source: Iterable<Buffer>): string {
  const h = createHash('sha256');
  for (const c of source) h.update(c);
  return h.digest('hex');
}

describe('large items', () => {
  it('streams a 2 GiB item in and out with flat memory', { timeout: 120_000 }, async () => {
    t = await createTestRepo({});
    const size = 2 * 1024 * MiB + 12345;
    const expected = sha(bytes(size, 'two gigabytes'));
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    try {
      const w = new SnapshotWriter(t.repo, { task: 'dropbox', entity: 'member' });
      await w.add({ key: '/Videos/keynote.mov', kind: 'file' }, Readable.from(bytes(size, 'two gigabytes')));
      const { id } = await w.commit();
      const reader = await SnapshotReader.open(await t.reopen(), id);
      const item = await reader.item('/Videos/keynote.mov');
      expect(item?.size).toBe(size);
      const h = createHash('sha256');
      for await (const chunk of reader.content(item as never)) h.update(chunk);
      expect(h.digest('hex')).toBe(expected);
    } finally {
      clearInterval(timer);
    }
    // The item is 2 GiB; what the process held at any time is a small fraction of it.
    expect(peak - rssBefore).toBeLessThan(400 * MiB);
  });

  it('uploads under 8 MiB when 1 MiB changes inside a 1 GiB file', { timeout: 120_000 }, async () => {
    t = await createTestRepo({});
    const size = 1024 * MiB;
    const w1 = new SnapshotWriter(t.repo, { task: 'dropbox', entity: 'member' });
    await w1.add({ key: '/disk.img', kind: 'file' }, Readable.from(bytes(size, 'one gigabyte')));
    const s1 = await w1.commit();
    const repo = await t.reopen();
    const patch = { at: 600 * MiB + 4321, data: randomBytes(MiB) };
    const w2 = new SnapshotWriter(repo, { task: 'dropbox', entity: 'member', parent: s1.id });
    await w2.add({ key: '/disk.img', kind: 'file' }, Readable.from(bytes(size, 'one gigabyte', patch)));
    const s2 = await w2.commit();
    expect(repo.stats.bytesUploaded).toBeLessThan(8 * MiB);
    const reader = await SnapshotReader.open(repo, s2.id);
    const h = createHash('sha256');
    for await (const chunk of reader.content((await reader.item('/disk.img')) as never)) h.update(chunk);
    expect(h.digest('hex')).toBe(sha(bytes(size, 'one gigabyte', patch)));
  });
});
