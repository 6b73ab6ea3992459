// A small source folder with the awkward cases (unicode names, empty files and folders, a
// symlink, an executable, a fixed mtime) and a comparable description of any folder, for backup
// and restore tests.
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every file, folder and symlink under a folder with content and metadata, for comparison. */
export function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const info = lstatSync(path);
      const rel = relative(root, path);
      if (info.isSymbolicLink()) out[rel] = `link`;
      else if (info.isDirectory()) {
        out[rel] = `dir ${info.mode & 0o7777}`;
        visit(path);
      } else
        out[rel] = `file ${info.mode & 0o7777} ${Math.floor(info.mtimeMs)} ${readFileSync(path).toString('base64')}`;
    }
  };
  visit(root);
  return out;
}

export function makeSource(root: string): void {
  mkdirSync(join(root, 'docs/2026/März'), { recursive: true });
  mkdirSync(join(root, 'empty-folder'));
  for (let i = 0; i < 60; i++) writeFileSync(join(root, 'docs', `note-${i}.txt`), `note ${i}\n`.repeat(i));
  writeFileSync(join(root, 'docs/2026/März/Überweisung 💶.pdf'), randomBytes(70_000));
  writeFileSync(join(root, 'zero'), '');
  writeFileSync(join(root, 'big.bin'), randomBytes(3 * 1024 * 1024));
  writeFileSync(join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  symlinkSync('docs/note-1.txt', join(root, 'shortcut'));
  utimesSync(join(root, 'zero'), new Date('2020-02-02T02:02:02Z'), new Date('2020-02-02T02:02:02Z'));
}
