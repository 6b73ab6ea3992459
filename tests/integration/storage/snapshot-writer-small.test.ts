// Content too small to hold a chunk boundary is stored straight from the caller's buffer (the
// folder backup's small files): it must be the very blob the chunker would have cut, so it dedups
// with the same bytes added as a stream, and the caller's buffer is left as it was.
import { afterAll, describe, expect, it } from 'vitest';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

const repos: TestRepo[] = [];
afterAll(() => {
  for (const r of repos) r.cleanup();
});

async function* asStream(buf: Buffer): AsyncIterable<Uint8Array> {
  yield buf.subarray(0, 1000);
  yield buf.subarray(1000);
}

describe('SnapshotWriter with content below the chunk minimum', () => {
  it('stores one blob, the same as for the bytes given as a stream, and leaves the buffer intact', async () => {
    const t = await createTestRepo();
    repos.push(t);
    // Above the inline limit, one byte below the chunker's minimum size.
    const bytes = Buffer.alloc(t.repo.config.chunker.minSize - 1, 'small file content; ');
    expect(bytes.length).toBeGreaterThan(4096);
    const copy = Buffer.from(bytes);
    const writer = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    const whole = await writer.add({ key: 'a', kind: 'file' }, bytes);
    const streamed = await writer.add({ key: 'b', kind: 'file' }, asStream(copy));
    expect(whole.content).toHaveLength(1);
    expect(whole.content).toEqual(streamed.content);
    expect(whole.size).toBe(copy.length);
    expect(bytes.equals(copy)).toBe(true);
    const { id } = await writer.commit();
    const reader = await SnapshotReader.open(t.repo, id);
    const item = await reader.item('a');
    const parts: Buffer[] = [];
    for await (const c of reader.content(item as never)) parts.push(c as Buffer);
    expect(Buffer.concat(parts).equals(copy)).toBe(true);
  });
});
