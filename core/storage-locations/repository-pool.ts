// Repositories kept open between the backup jobs of one job worker thread. Opening a repository
// lists every pack and reads every index file to build its blob index: for a Salesforce org's
// hundreds of objects backed up one job each into one repository, that reading grew with every
// job and cost more CPU than the incremental runs themselves. A kept repository is brought up to
// date by `Repository.refresh` (the index files written since) when the next job takes it, or
// closed when that cannot be trusted; it is closed after `idleMs` without a job, and opened
// afresh after `maxAgeMs` (a fresh open is what finds packs a crashed backup left unindexed).
import type { Repository } from '../../storage/repository.ts';
import type { Sink } from '../plugins/sink.ts';

export interface KeptRepository {
  repo: Repository;
  sink: Sink;
  /** When it was opened (its full index load). */
  openedAt: number;
}

export interface RepositoryPoolOptions {
  idleMs: number;
  maxAgeMs: number;
  now?: () => number;
}

export class RepositoryPool {
  readonly #kept = new Map<string, KeptRepository & { timer: NodeJS.Timeout }>();
  readonly #options: RepositoryPoolOptions;

  constructor(options: RepositoryPoolOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#kept.size;
  }

  /** The repository kept under `key`, brought up to date; undefined when none is kept or it had to be closed. */
  async take(key: string): Promise<KeptRepository | undefined> {
    const kept = this.#kept.get(key);
    if (!kept) return undefined;
    this.#kept.delete(key);
    clearTimeout(kept.timer);
    const now = this.#options.now?.() ?? Date.now();
    const fresh = now - kept.openedAt < this.#options.maxAgeMs && (await kept.repo.refresh().catch(() => false));
    if (fresh) return { repo: kept.repo, sink: kept.sink, openedAt: kept.openedAt };
    await close(kept);
    return undefined;
  }

  /** Keeps a repository a job is done with for the next one; one that is busy, or a second under one key, is closed. */
  async give(key: string, kept: KeptRepository): Promise<void> {
    if (!kept.repo.idle || this.#kept.has(key)) {
      await close(kept);
      return;
    }
    const timer = setTimeout(() => {
      if (this.#kept.get(key)?.repo !== kept.repo) return;
      this.#kept.delete(key);
      void close(kept);
    }, this.#options.idleMs);
    timer.unref();
    this.#kept.set(key, { ...kept, timer });
  }

  async closeAll(): Promise<void> {
    const all = [...this.#kept.values()];
    this.#kept.clear();
    for (const kept of all) {
      clearTimeout(kept.timer);
      await close(kept);
    }
  }
}

async function close(kept: KeptRepository): Promise<void> {
  kept.repo.close();
  await kept.sink.close().catch(() => undefined);
}
