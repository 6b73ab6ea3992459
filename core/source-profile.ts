// Whether a folder about to be backed up holds mostly small files, judged from a bounded sample
// (breadth first, at most 1000 files in 200 folders), so `holdfast repo backup` can choose its
// memory settings before it starts (core/memory-flags.ts). A wrong guess costs speed or memory,
// never correctness.
import { type Dirent, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SAMPLE_FILES = 1000;
const SAMPLE_FOLDERS = 200;
/** Fewer files than this: too few for the settings to matter. */
const MIN_FILES = 256;
/** Files from this size up are read in pieces and chunked (SMALL_FILE in storage/filesystem.ts). */
const CHUNKED_FILE = 1024 * 1024;

/**
 * True when the sample has enough files and less than half of its bytes are in files large enough
 * to be chunked: then the backup's buffers are mostly the size of the files themselves.
 */
export function mostlySmallFiles(root: string): boolean {
  let files = 0;
  let bytes = 0;
  let chunkedBytes = 0;
  let folders = 0;
  const queue = [root];
  for (let next = 0; next < queue.length && folders < SAMPLE_FOLDERS && files < SAMPLE_FILES; next++) {
    folders++;
    let entries: Dirent[];
    try {
      entries = readdirSync(queue[next] as string, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(queue[next] as string, entry.name);
      if (entry.isDirectory()) queue.push(path);
      else if (entry.isFile()) {
        const size = sizeOf(path);
        if (size === undefined) continue;
        files++;
        bytes += size;
        if (size >= CHUNKED_FILE) chunkedBytes += size;
        if (files >= SAMPLE_FILES) break;
      }
    }
  }
  return files >= MIN_FILES && chunkedBytes * 2 < bytes;
}

function sizeOf(path: string): number | undefined {
  try {
    return lstatSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * The folder argument of `repo backup …` without the repository's option parser (which loads
 * every sink plugin): the first argument after `backup` that is neither an option nor an
 * option's value. undefined when it cannot tell (a boolean option before the folder).
 */
export function backupFolderArgument(args: readonly string[]): string | undefined {
  const at = args.indexOf('backup');
  for (let i = at + 1; at >= 0 && i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--json') continue;
    if (arg.startsWith('--')) {
      if (!arg.includes('=')) i++;
      continue;
    }
    return arg;
  }
  return undefined;
}
