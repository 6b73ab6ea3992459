// A repository on a fresh local-disk sink, for storage tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LocalSink } from '../../plugins/sinks/local/index.ts';
import { type InitOptions, Repository } from '../../storage/repository.ts';
import { readAll } from '../../storage/streams.ts';

export { readAll };

export const PASSPHRASE = 'correct horse battery staple';

/** Small chunks and packs so tests exercise many of each without much data. */
export const SMALL: Omit<InitOptions, 'passphrase'> = {
  chunker: { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 },
  packSize: 1024 * 1024,
};

export interface TestRepo {
  root: string;
  sink: LocalSink;
  repo: Repository;
  /** A new Repository object on the same sink, as another process would open it. */
  reopen(): Promise<Repository>;
  cleanup(): void;
}

export async function createTestRepo(options: Partial<InitOptions> = SMALL): Promise<TestRepo> {
  const root = mkdtempSync(join(tmpdir(), 'holdfast-repo-'));
  const sink = new LocalSink({ path: join(root, 'sink') });
  const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...options });
  return {
    root,
    sink,
    repo,
    reopen: () => Repository.open(new LocalSink({ path: join(root, 'sink') }), { passphrase: PASSPHRASE }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
