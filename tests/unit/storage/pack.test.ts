import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { seal } from '../../../storage/crypto.ts';
import { generateMasterKeys } from '../../../storage/keys.ts';
import { PackBuilder, parseTrailer, TRAILER_MAGIC, tarHeader } from '../../../storage/pack.ts';
import { readAll } from '../../../storage/streams.ts';

/** The whole tar archive tar-stream makes of these entries. */
async function tarStreamArchive(entries: { name: string; body: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  pack.on('data', (chunk: unknown) => {
    out.push(chunk as Buffer);
  });
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) pack.entry({ name: e.name, size: e.body.length, mtime: new Date(0), mode: 0o600 }, e.body);
  pack.finalize();
  await ended;
  return Buffer.concat(out);
}

/** Entry names and bodies of a tar archive, as tar-stream reads them. */
async function entriesOf(archive: Buffer): Promise<{ name: string; body: Buffer }[]> {
  const extract = tar.extract();
  const found: { name: string; body: Buffer }[] = [];
  extract.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: unknown) => {
      parts.push(d as Buffer);
    });
    stream.on('end', () => {
      found.push({ name: header.name, body: Buffer.concat(parts) });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  extract.end(archive);
  await done;
  return found;
}

describe('packs spooled to a file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes the same tar headers as tar-stream did', async () => {
    const entries = [
      { name: 'ab'.repeat(32), body: Buffer.alloc(17001, 1) },
      { name: 'index', body: Buffer.alloc(300, 2) },
    ];
    const archive = await tarStreamArchive(entries);
    expect(archive.subarray(0, 512)).toEqual(tarHeader('ab'.repeat(32), 17001));
    expect(archive.subarray(512 + 17408, 512 + 17408 + 512)).toEqual(tarHeader('index', 300));
  });

  it('lays out blobs, index and trailer as a tar archive and leaves no file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-pack-'));
    dirs.push(dir);
    const keys = generateMasterKeys();
    const builder = new PackBuilder('data', dir);
    const small = await seal(keys.encKey, Buffer.from('a small file\n'.repeat(100)));
    const large = await seal(keys.encKey, Buffer.alloc(600 * 1024, 7)); // written past the spool buffer
    builder.add('11'.repeat(32), small.sealed, 1300, small.codec);
    builder.add(
      '22'.repeat(32),
      [large.sealed.subarray(0, 1000), large.sealed.subarray(1000)],
      600 * 1024,
      large.codec,
    );
    expect(readdirSync(dir)).toEqual([]);
    const pack = await builder.finish(keys.encKey);
    const bytes = await readAll(pack.body());
    pack.dispose();
    expect(bytes.length).toBe(pack.size);
    const entries = await entriesOf(bytes);
    expect(entries.map((e) => e.name)).toEqual(['11'.repeat(32), '22'.repeat(32), 'index', 'trailer']);
    expect(entries[0]?.body).toEqual(small.sealed);
    expect(entries[1]?.body).toEqual(large.sealed);
    for (const [i, blob] of pack.blobs.entries())
      expect(bytes.subarray(blob.offset, blob.offset + blob.length)).toEqual(entries[i]?.body);
    const trailer = bytes.subarray(bytes.length - 1536, bytes.length - 1024);
    expect(trailer.toString('latin1').startsWith(TRAILER_MAGIC)).toBe(true);
    const at = parseTrailer(trailer, pack.id);
    expect(bytes.subarray(at.offset, at.offset + at.length)).toEqual(entries[2]?.body);
    expect(readdirSync(dir)).toEqual([]);
  });
});
