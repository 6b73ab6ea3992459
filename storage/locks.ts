// Repository locks, stored in the sink as `locks/<id>`. Backups and restores hold shared locks;
// prune and key removal hold an exclusive one. A lock carries an expiry and is refreshed while
// held; a lock past its expiry belongs to a process that died and is removed by whoever finds it.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ObjectNotFoundError, type Sink } from '../core/plugins/sink.ts';
import { readAll } from './streams.ts';

export type LockKind = 'shared' | 'exclusive';

export interface LockRecord {
  kind: LockKind;
  host: string;
  pid: number;
  purpose: string;
  created: string;
  expires: string;
}

const STALE_MARGIN_MS = 60_000;

export class RepositoryLockedError extends Error {
  readonly holder: LockRecord;
  constructor(holder: LockRecord) {
    super(
      `the repository is locked (${holder.kind}) by ${holder.purpose} on ${holder.host} (pid ${holder.pid}) until ${holder.expires}`,
    );
    this.name = 'RepositoryLockedError';
    this.holder = holder;
  }
}

export interface LockOptions {
  purpose: string;
  /** How long a lock lives without a refresh (default 10 minutes); refreshed every third of it. */
  ttlMs?: number;
  now?: () => number;
}

export class RepositoryLock {
  readonly key: string;
  readonly kind: LockKind;
  /** The sink the lock lives in (its description): a lock guards only its own repository. */
  readonly location: string;
  readonly #sink: Sink;
  #record: LockRecord;
  #timer: NodeJS.Timeout | undefined;
  #lost: string | undefined;
  readonly #ttl: number;
  readonly #now: () => number;

  private constructor(sink: Sink, key: string, record: LockRecord, ttl: number, now: () => number) {
    this.#sink = sink;
    this.key = key;
    this.kind = record.kind;
    this.location = sink.description;
    this.#record = record;
    this.#ttl = ttl;
    this.#now = now;
  }

  /** Takes a lock, or throws RepositoryLockedError naming a live conflicting holder. */
  static async acquire(sink: Sink, kind: LockKind, options: LockOptions): Promise<RepositoryLock> {
    const now = options.now ?? Date.now;
    const ttl = options.ttlMs ?? 10 * 60_000;
    const record: LockRecord = {
      kind,
      host: hostname(),
      pid: process.pid,
      purpose: options.purpose,
      created: new Date(now()).toISOString(),
      expires: new Date(now() + ttl).toISOString(),
    };
    const key = `locks/${randomUUID()}`;
    const body = Buffer.from(JSON.stringify(record));
    await sink.put(key, body, { ifAbsent: true, contentLength: body.length });
    const lock = new RepositoryLock(sink, key, record, ttl, now);
    // Write first, then look: of two processes racing, at least one sees the other and backs off.
    try {
      for (const other of await readLocks(sink, now)) {
        if (other.key === key) continue;
        if (kind === 'exclusive' || other.record.kind === 'exclusive') throw new RepositoryLockedError(other.record);
      }
    } catch (err) {
      await sink.delete(key);
      throw err;
    }
    lock.#timer = setInterval(
      () => {
        lock.refresh().catch((err) => {
          lock.#lost ??= `the lock could not be refreshed (${(err as Error).message})`;
        });
      },
      Math.max(1000, ttl / 3),
    );
    lock.#timer.unref();
    return lock;
  }

  /** Throws when the lock may no longer be held (it vanished, or refreshing it failed). */
  assertHeld(): void {
    if (this.#lost) throw new Error(`repository lock ${this.key} was lost: ${this.#lost}`);
  }

  async refresh(): Promise<void> {
    // Someone judged the lock stale and removed it: writing it back would hide that.
    try {
      await this.#sink.head(this.key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        this.#lost ??= 'another process removed it as stale';
        return;
      }
      throw err;
    }
    this.#record = { ...this.#record, expires: new Date(this.#now() + this.#ttl).toISOString() };
    const body = Buffer.from(JSON.stringify(this.#record));
    await this.#sink.put(this.key, body, { contentLength: body.length });
  }

  async release(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sink.delete(this.key);
  }
}

/**
 * Live locks; stale ones are removed on the way. A lock is stale when the store has not seen it
 * rewritten for its whole lifetime plus a margin: the store's own timestamps are used, so the
 * clocks of the machines involved need not agree (the record's `expires` is a fallback for
 * stores that report no modification time).
 */
export async function readLocks(
  sink: Sink,
  now: () => number = Date.now,
): Promise<{ key: string; record: LockRecord }[]> {
  const live: { key: string; record: LockRecord }[] = [];
  for await (const info of sink.list('locks/')) {
    let record: LockRecord;
    try {
      record = JSON.parse((await readAll(await sink.get(info.key))).toString('utf8')) as LockRecord;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) continue; // released meanwhile
      if (err instanceof SyntaxError) {
        await sink.delete(info.key);
        continue;
      }
      throw err;
    }
    const lifetime = Date.parse(record.expires) - Date.parse(record.created);
    const stale = info.lastModified
      ? info.lastModified.getTime() + lifetime + STALE_MARGIN_MS < now()
      : Date.parse(record.expires) + STALE_MARGIN_MS < now();
    if (stale) {
      await sink.delete(info.key);
      continue;
    }
    live.push({ key: info.key, record });
  }
  return live;
}

/**
 * Runs `work` under a lock, always releasing it. With `repo`, the repository object works under
 * the lock: it commits snapshots only while the lock is still held, and none without one.
 */
export async function withLock<T>(
  sink: Sink,
  kind: LockKind,
  options: LockOptions,
  work: () => Promise<T>,
  repo?: { holdLock(lock: RepositoryLock | undefined): void },
): Promise<T> {
  const lock = await RepositoryLock.acquire(sink, kind, options);
  try {
    repo?.holdLock(lock);
    return await work();
  } finally {
    repo?.holdLock(undefined);
    await lock.release();
  }
}
