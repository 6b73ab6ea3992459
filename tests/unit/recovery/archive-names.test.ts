// Export archives keep item names as they are: written through the export's own writer and
// entry naming, then unpacked with the system's `tar` and `unzip` and compared by name bytes.
// TAR holds every name a Linux file system holds; ZIP swaps a backslash and control characters
// for visible stand-ins, and every changed name is in the manifest.
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveWriter, EntryNames, RENAMED_MANIFEST } from '../../../core/recovery/archive.ts';
import type { ExportFormat } from '../../../core/recovery/entities.ts';

const work = mkdtempSync(join(tmpdir(), 'holdfast-archive-names-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const long = `${'a'.repeat(251)}.txt`;
const FILES = [
  'Awkward/punct/back\\slash.txt',
  'Awkward/punct/#%&;\'".txt',
  'Awkward/cafe\u0301.txt',
  'Awkward/caf\u00e9.txt',
  'Awkward/CASE.txt',
  'Awkward/case.txt',
  'Awkward/ leading and trailing .txt',
  'Awkward/👩‍👩‍👧 family.txt',
  'Awkward/日本語のファイル.txt',
  'Awkward/שלום.txt',
  `Awkward/${long}`,
  'Awkward/tab\there.txt',
  'Awkward/../escape.txt',
];

/** Every file under `root`: relative path (as bytes, from the file system) → content. */
function tree(root: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(join(root, prefix), { encoding: 'buffer' })) {
    const rel = prefix ? `${prefix}/${entry.toString()}` : entry.toString();
    if (statSync(join(root, rel)).isDirectory()) for (const [k, v] of tree(root, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(root, rel), 'utf8'));
  }
  return out;
}

async function writeArchive(format: ExportFormat): Promise<{ file: string; names: EntryNames }> {
  const file = join(work, `export.${format}`);
  const archive = archiveWriter(format);
  const names = new EntryNames(format);
  const writing = pipeline(archive.output, createWriteStream(file));
  const mtime = new Date('2026-01-02T03:04:05Z');
  await archive.addFolder(names.name('Awkward/empty folder', true), mtime);
  for (const path of FILES) {
    const content = Buffer.from(`content of ${path}`);
    await archive.addFile(names.name(path), content.byteLength, mtime, Readable.from([content]));
  }
  if (names.renamed.length) {
    const manifest = names.manifest();
    await archive.addFile(names.name(RENAMED_MANIFEST), manifest.byteLength, mtime, Readable.from([manifest]));
  }
  archive.finish();
  await writing;
  return { file, names };
}

function unpack(format: ExportFormat, file: string): string {
  const out = join(work, `unpacked-${format}`);
  mkdirSync(out);
  const env = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
  if (format === 'tar') execFileSync('tar', ['-xf', file, '-C', out], { env });
  else execFileSync('unzip', ['-q', file, '-d', out], { env });
  return out;
}

describe('export archive names', () => {
  it('TAR keeps every name byte for byte (backslash, control character, NFC and NFD, 255 bytes)', async () => {
    const { file, names } = await writeArchive('tar');
    const out = unpack('tar', file);
    const files = tree(out);
    for (const path of FILES.filter((p) => !p.includes('/../'))) {
      expect(files.get(path), path).toBe(`content of ${path}`);
    }
    expect(statSync(join(out, 'Awkward/empty folder')).isDirectory()).toBe(true);
    // Only ".." cannot be a name: it is replaced visibly and listed.
    expect(names.renamed).toEqual([
      {
        original: 'Awkward/../escape.txt',
        stored: 'Awkward/\uff0e\uff0e/escape.txt',
        reason: '"." and ".." cannot be names',
      },
    ]);
    const manifest = JSON.parse(readFileSync(join(out, RENAMED_MANIFEST), 'utf8'));
    expect(manifest.renamed).toEqual(names.renamed);
    expect(files.get('Awkward/\uff0e\uff0e/escape.txt')).toBe('content of Awkward/../escape.txt');
  });

  it('ZIP stores a backslash and control characters visibly, and lists each change in the manifest', async () => {
    const { file } = await writeArchive('zip');
    const out = unpack('zip', file);
    const files = tree(out);
    const manifest = JSON.parse(readFileSync(join(out, RENAMED_MANIFEST), 'utf8')) as {
      renamed: { original: string; stored: string }[];
    };
    const stored = new Map(manifest.renamed.map((r) => [r.original, r.stored]));
    expect(stored.get('Awkward/punct/back\\slash.txt')).toBe('Awkward/punct/back\uff3cslash.txt');
    expect(stored.get('Awkward/tab\there.txt')).toBe('Awkward/tab\u2409here.txt');
    for (const path of FILES) {
      expect(files.get(stored.get(path) ?? path), path).toBe(`content of ${path}`);
    }
    // Unchanged names are exactly the item's: nothing else is in the manifest.
    expect([...stored.keys()].sort()).toEqual(
      ['Awkward/punct/back\\slash.txt', 'Awkward/tab\there.txt', 'Awkward/../escape.txt'].sort(),
    );
    expect(files.has('Awkward/punct/back/slash.txt')).toBe(false);
    expect(statSync(join(out, 'Awkward/empty folder')).isDirectory()).toBe(true);
  });

  it('keeps names that differ only in case or normalization apart, and numbers true duplicates', () => {
    const names = new EntryNames('tar');
    expect(names.name('a/File.txt')).toBe('a/File.txt');
    expect(names.name('a/file.txt')).toBe('a/file.txt');
    expect(names.name('a/caf\u00e9')).toBe('a/caf\u00e9');
    expect(names.name('a/cafe\u0301')).toBe('a/cafe\u0301');
    expect(names.name('a/file.txt')).toBe('a/file (2).txt');
    expect(names.renamed).toEqual([
      { original: 'a/file.txt', stored: 'a/file (2).txt', reason: 'another entry has the same name' },
    ]);
  });

  it('shortens a name over 255 bytes visibly', () => {
    const names = new EntryNames('tar');
    const stored = names.name(`x/${'é'.repeat(200)}`);
    const last = stored.split('/')[1] as string;
    expect(Buffer.byteLength(last)).toBeLessThanOrEqual(255);
    expect(last.endsWith('…')).toBe(true);
    expect(names.renamed[0]?.reason).toBe('names are at most 255 bytes');
  });
});
