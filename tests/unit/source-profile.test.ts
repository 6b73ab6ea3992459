import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupFolderArgument, mostlySmallFiles } from '../../core/source-profile.ts';

describe('mostlySmallFiles', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tree = (small: number, largeBytes = 0): string => {
    const root = mkdtempSync(join(tmpdir(), 'holdfast-profile-'));
    dirs.push(root);
    for (let i = 0; i < small; i++) {
      const dir = join(root, `pkg-${i % 20}`, 'lib');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `f${i}.js`), 'x'.repeat(2000));
    }
    if (largeBytes) writeFileSync(join(root, 'video.bin'), Buffer.alloc(largeBytes));
    return root;
  };

  it('says yes for many small files in nested folders', () => {
    expect(mostlySmallFiles(tree(400))).toBe(true);
  });

  it('says no when most bytes are in files large enough to be chunked', () => {
    expect(mostlySmallFiles(tree(400, 4 * 1024 * 1024))).toBe(false);
  });

  it('says no for a few files, and for a folder that does not exist', () => {
    expect(mostlySmallFiles(tree(20))).toBe(false);
    expect(mostlySmallFiles(join(tmpdir(), 'holdfast-profile-missing-folder'))).toBe(false);
  });
});

describe('backupFolderArgument', () => {
  it('finds the folder before, between and after options', () => {
    expect(backupFolderArgument(['backup', '/src', '--sink', 'local', '--path', '/r'])).toBe('/src');
    expect(backupFolderArgument(['backup', '--sink', 'local', '/src', '--path=/r'])).toBe('/src');
    expect(backupFolderArgument(['backup', '--json', '--sink=local', '--path', '/r', '/src'])).toBe('/src');
  });

  it('gives up without a folder', () => {
    expect(backupFolderArgument(['backup', '--sink', 'local'])).toBeUndefined();
    expect(backupFolderArgument(['snapshots'])).toBeUndefined();
  });
});
