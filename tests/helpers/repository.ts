// A repository on a fresh local-disk sink, for storage tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSink } from '../../plugins/sinks/local/index.ts';
import { RepositoryLock } from '../../storage/locks.ts';
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
  /** Works under `lock`, as a backup does. */
  repo: Repository;
  /** A shared lock held for the whole test, as a running backup holds one. */
  lock: RepositoryLock;
  /** A new Repository object on the same sink (under the same lock), as another process would open it. */
  reopen(): Promise<Repository>;
  cleanup(): void;
}

export async function createTestRepo(options: Partial<InitOptions> = SMALL): Promise<TestRepo> {
  const root = mkdtempSync(join(tmpdir(), 'holdfast-repo-'));
  const sink = new LocalSink({ path: join(root, 'sink') });
  const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...options });
  const lock = await RepositoryLock.acquire(sink, 'shared', { purpose: 'test' });
  repo.holdLock(lock);
  return {
    root,
    sink,
    repo,
    lock,
    reopen: async () => {
      const reopened = await Repository.open(new LocalSink({ path: join(root, 'sink') }), { passphrase: PASSPHRASE });
      reopened.holdLock(lock);
      return reopened;
    },
    cleanup: () => {
      void lock.release().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
