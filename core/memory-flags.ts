// Memory settings for processes that do repository work (backups, restores, record collections).
// V8's defaults size the heap for the machine (on 24 GiB it lets the old generation grow to
// hundreds of MiB of garbage before a full collection, and the young generation to 16 MiB per
// semi-space); these keep a 1M-record backup near 250 MiB peak RSS at the same CPU time. glibc's
// per-thread malloc arenas (one per thread-pool thread) are capped (MALLOC_ARENAS), and large buffers bypass its
// heap (the dynamic mmap threshold otherwise lets freed 1 MiB chunk buffers pile up in it).
// Flags can only be set when a process starts, so a process that needs them re-executes itself
// once (same PID).

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';

/** The young generation's semi-spaces (MiB) of a thread doing repository work. */
const REPOSITORY_SEMI_SPACE_MB = 8;
/** The semi-spaces of the appliance's main thread (see WORK_V8_FLAGS.appliance). */
const APPLIANCE_SEMI_SPACE_MB = 2;

/** V8 flags for repository work. The old-space cap is a ceiling, not a target (see docs/REPOSITORY.md). */
export const REPOSITORY_V8_FLAGS = [`--max-semi-space-size=${REPOSITORY_SEMI_SPACE_MB}`, '--max-old-space-size=1024'];

/**
 * glibc's mmap threshold: buffers from this size up are mapped and unmapped on their own. For
 * backups it is 32 MiB instead (restores 16 MiB, below): they free their buffers as soon as they are done
 * with them (storage/buffers.ts), so the malloc heap reuses that memory and does not fill with
 * dead buffers; mapping every chunk afresh cost about 0.7 page faults per KiB, a fifth of a large
 * backup's time and a third of a restore's. Record collections leave their buffers to the
 * collector and keep 256 KiB.
 */
const MMAP_THRESHOLD = {
  default: '262144',
  appliance: '262144',
  backup: '33554432',
  // 16 MiB for a restore: its buffers stay below 8 MiB, and opening a repository hashes a 16 MiB
  // array (the key file's OpenPGP S2K, iterated to 16 MiB), garbage until the next full
  // collection. Taken from the malloc heap it grew that heap by 16 MiB for the whole restore;
  // mapped on its own it is unmapped when collected (peak RSS of a node_modules restore ~130
  // instead of ~140 MiB, bench/README.md).
  restore: '16777216',
  // A backup of mostly small files (core/source-profile.ts): its buffers are the files' own sizes,
  // freed in any order, and with the 32 MiB threshold they fragment the malloc heap instead of
  // being reused (peak RSS ~20–45 MiB higher on a node_modules copy); few chunk buffers to map.
  'backup-small-files': '262144',
};

/**
 * glibc malloc arenas. The appliance (and the other `holdfast repo` commands) keep one: its
 * request thread, job worker thread and thread pool allocate small, short-lived blocks, and every
 * further arena holds its own free pages — a 50,000-record Salesforce backup peaked ~15–25 MiB
 * lower with one than with two, at the same CPU time (bench/README.md). Backups and restores keep
 * two: their thread pool compresses and encrypts in parallel.
 */
const MALLOC_ARENAS: Record<keyof typeof MMAP_THRESHOLD, string> = {
  default: '1',
  appliance: '1',
  backup: '2',
  restore: '2',
  'backup-small-files': '2',
};

/**
 * V8 flags for one kind of work. A backup allocates a chunk and its ciphertext for every MiB it
 * reads (a restore the sealed bytes and the plaintext); V8 would run a full collection for every
 * 64 MiB of such (external) memory — about 40 while backing up 600 MiB, a quarter of the CPU
 * time — although both free every one of them themselves (storage/buffers.ts). Counting external
 * memory within the heap's overall limit leaves 7: a fifth faster, for ~30 MiB more peak RSS.
 */
const WORK_V8_FLAGS: Record<keyof typeof MMAP_THRESHOLD, string[]> = {
  default: [],
  // The server's own thread (requests, claims, the scheduler) allocates little once it has
  // started: 2 MiB semi-spaces (the later flag wins) instead of 8, ~12 MiB less resident memory
  // for the same CPU time. Its job worker threads keep 8 (jobWorkerHeapFlags below).
  appliance: [`--max-semi-space-size=${APPLIANCE_SEMI_SPACE_MB}`],
  backup: ['--external-memory-accounted-in-global-limit'],
  // Restores and backups of small files make many short-lived objects per file (entries, stats,
  // promises) and little else: 2 MiB semi-spaces (the later flag wins) kept V8's heap at ~25
  // instead of ~40–70 MiB on a node_modules copy, peak RSS ~20 MiB lower (bench/README.md).
  restore: ['--external-memory-accounted-in-global-limit', '--max-semi-space-size=2'],
  'backup-small-files': ['--external-memory-accounted-in-global-limit', '--max-semi-space-size=2'],
};

/**
 * Node's compile cache for the re-executed process: with the type-stripped sources and their
 * bytecode cached, Node does not load its TypeScript stripper (a WebAssembly module) or compile
 * the sources again; ~28 MiB less resident memory and ~0.2 s less start-up for every command.
 * The cache is keyed by each file's content, so a changed source is compiled afresh.
 */
function compileCacheEnv(): Record<string, string> {
  if (process.env.NODE_COMPILE_CACHE || process.env.NODE_DISABLE_COMPILE_CACHE) return {};
  return { NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };
}

/** False when this process runs with the flags already (or flags were chosen explicitly). */
function willReexec(): boolean {
  const chosen = (flag: string) =>
    process.execArgv.some((a) => a.startsWith(flag.split('=')[0] as string)) ||
    (process.env.NODE_OPTIONS ?? '').split(/\s+/).some((a) => a.startsWith(flag.split('=')[0] as string));
  return !REPOSITORY_V8_FLAGS.some(chosen) && typeof process.execve === 'function';
}

export type Work = keyof typeof MMAP_THRESHOLD;

/** The work of a `holdfast repo …` command line (its arguments after `repo`). */
export async function repoWork(args: readonly string[]): Promise<Work> {
  if (args[0] === 'restore') return 'restore';
  if (args[0] !== 'backup') return 'default';
  // Judged only when the process will re-execute: the sample is not taken twice.
  if (!willReexec()) return 'backup';
  const { backupFolderArgument, mostlySmallFiles } = await import('./source-profile.ts');
  const folder = backupFolderArgument(args);
  return folder !== undefined && mostlySmallFiles(folder) ? 'backup-small-files' : 'backup';
}

/**
 * Replaces this process with the same command under REPOSITORY_V8_FLAGS, unless it already runs
 * with them (or flags were chosen explicitly). Call before doing anything else.
 */
export function reexecWithMemoryFlags(work: Work = 'default'): void {
  if (!willReexec() || typeof process.execve !== 'function') return;
  process.execve(
    process.execPath,
    [process.execPath, ...REPOSITORY_V8_FLAGS, ...WORK_V8_FLAGS[work], ...process.execArgv, ...process.argv.slice(1)],
    {
      ...process.env,
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? MALLOC_ARENAS[work],
      // Buffers from 256 KiB up (chunks, reads, packs) are mapped and unmapped on their own
      // instead of reusing (and fragmenting) the malloc heap: RSS follows live memory, for some
      // system time. Not for backups (see MMAP_THRESHOLD).
      MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? MMAP_THRESHOLD[work],
      ...compileCacheEnv(),
    },
  );
}

/**
 * In the appliance: threads started from now on (job workers) get REPOSITORY_V8_FLAGS' semi-spaces,
 * while the main thread keeps the smaller ones it was started with. V8 sizes a thread's young
 * generation from the flags when the thread's isolate is created, and only then; a Worker's
 * `resourceLimits.maxYoungGenerationSizeMb` cannot do this, the flag overrides it. Call once the
 * process runs with its flags (after reexecWithMemoryFlags('appliance')), before starting workers.
 */
export function jobWorkerHeapFlags(): void {
  // Only in a process this module re-executed for the appliance (not with flags an operator chose).
  const ours = [...REPOSITORY_V8_FLAGS, ...WORK_V8_FLAGS.appliance];
  if (ours.every((flag, i) => process.execArgv[i] === flag)) {
    setFlagsFromString(`--max-semi-space-size=${REPOSITORY_SEMI_SPACE_MB}`);
  }
}
