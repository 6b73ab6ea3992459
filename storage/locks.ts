// Repository locks, stored in the sink as `locks/<id>`. Backups and restores hold shared locks;
// prune and key removal hold an exclusive one. A lock carries an expiry and is refreshed while
// held; a lock past its expiry belongs to a process that died and is removed by whoever finds it.
// A lock also names its owner process (host, boot, pid namespace, pid and start time): on the
// same host, a lock whose process is gone is stale at once, not only after its expiry.
import { randomUUID } from 'node:crypto';
import { ObjectNotFoundError, type Sink } from '../core/plugins/sink.ts';
import { describeOwnerDeath, type LockOwner, lockOwner } from './lock-owner.ts';
import { readAll } from './streams.ts';

export type LockKind = 'shared' | 'exclusive';

export interface LockRecord extends LockOwner {
  kind: LockKind;
  purpose: string;
  created: string;
  expires: string;
  /** When the store first saw the lock (its own clock), for prune's grace: see lockedSince. */
  since?: string;
  /**
   * Until the record carries `since`, the store's modification time of the lock object is it: the
   * record is written once when taken, and `since` only with its first refresh, which changes the
   * modification time — not a second write right after the first for each backup.
   */
  sinceFromStore?: boolean;
}

/** A lock judged stale, and why. */
export interface StaleLock {
  key: string;
  record: LockRecord;
  reason: string;
}

/** Who takes a lock now: this process. */
export function currentLockOwner(): LockOwner {
  return lockOwner(process.pid);
}

const STALE_MARGIN_MS = 60_000;

export class RepositoryLockedError extends Error {
  readonly holder: LockRecord;
  constructor(holder: LockRecord) {
    super(
      `the repository is locked (${holder.kind}) by ${holder.purpose} on ${holder.host} (pid ${holder.pid}) until ${holder.expires}` +
        ' (`holdfast repo unlock` removes locks of processes that are gone)',
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
  /** Stale locks of others this acquisition removed. */
  removedStale: StaleLock[] = [];

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
      ...currentLockOwner(),
      kind,
      purpose: options.purpose,
      created: new Date(now()).toISOString(),
      expires: new Date(now() + ttl).toISOString(),
      sinceFromStore: true,
    };
    const key = `locks/${randomUUID()}`;
    const body = Buffer.from(JSON.stringify(record));
    await sink.put(key, body, { ifAbsent: true, contentLength: body.length });
    const lock = new RepositoryLock(sink, key, record, ttl, now);
    // Write first, then look: of two processes racing, at least one sees the other and backs off.
    try {
      const { live, stale } = await inspectLocks(sink, now, { key, record });
      for (const other of stale) await removeLock(sink, other.key);
      lock.removedStale = stale;
      for (const other of live) {
        if (other.key === key) {
          // The store's time of the lock's first write, written with the first refresh.
          if (other.lastModified) lock.#record = { ...lock.#record, since: other.lastModified.toISOString() };
          continue;
        }
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
    await this.#write();
  }

  async #write(): Promise<void> {
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
 * stores that report no modification time). A lock of this host whose process is gone is stale
 * at once (storage/lock-owner.ts).
 */
export async function readLocks(
  sink: Sink,
  now: () => number = Date.now,
): Promise<{ key: string; record: LockRecord; lastModified?: Date }[]> {
  const { live, stale } = await inspectLocks(sink, now);
  for (const lock of stale) await removeLock(sink, lock.key);
  return live;
}

/**
 * Live and stale locks, removing nothing but unparsable lock objects. `own`: a lock the caller
 * has just written, whose record it need not read back.
 */
export async function inspectLocks(
  sink: Sink,
  now: () => number = Date.now,
  own?: { key: string; record: LockRecord },
): Promise<{ live: { key: string; record: LockRecord; lastModified?: Date }[]; stale: StaleLock[] }> {
  const live: { key: string; record: LockRecord; lastModified?: Date }[] = [];
  const stale: StaleLock[] = [];
  for await (const info of sink.list('locks/')) {
    let record: LockRecord;
    try {
      record =
        info.key === own?.key
          ? own.record
          : (JSON.parse((await readAll(await sink.get(info.key))).toString('utf8')) as LockRecord);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) continue; // released meanwhile
      if (err instanceof SyntaxError) {
        await removeLock(sink, info.key);
        continue;
      }
      throw err;
    }
    const lifetime = Date.parse(record.expires) - Date.parse(record.created);
    const expired = info.lastModified
      ? info.lastModified.getTime() + lifetime + STALE_MARGIN_MS < now()
      : Date.parse(record.expires) + STALE_MARGIN_MS < now();
    const dead = describeOwnerDeath(record);
    if (expired || dead) {
      const since = info.lastModified?.toISOString() ?? record.expires;
      stale.push({ key: info.key, record, reason: dead ?? `not refreshed since ${since}` });
      continue;
    }
    live.push({ key: info.key, record, ...(info.lastModified ? { lastModified: info.lastModified } : {}) });
  }
  return { live, stale };
}

async function removeLock(sink: Sink, key: string): Promise<void> {
  try {
    await sink.delete(key);
  } catch (err) {
    if (!(err instanceof ObjectNotFoundError)) throw err;
  }
}

/** `unlock`: removes stale locks (or, with all, every lock: only when nothing runs); returns them. */
export async function removeLocks(sink: Sink, options: { all?: boolean } = {}): Promise<StaleLock[]> {
  const { live, stale } = await inspectLocks(sink);
  const removed = options.all ? [...stale, ...live.map((l) => ({ ...l, reason: 'removed on request' }))] : stale;
  for (const lock of removed) await removeLock(sink, lock.key);
  return removed;
}

/**
 * The store's time when the oldest live lock was taken: packs older than that belong to no
 * running backup (a writer takes its lock before it uploads): its `since`, or before its first
 * refresh the lock object's modification time. Undefined when a live lock does not record it
 * (an older version's), or no lock is live.
 */
export async function lockedSince(sink: Sink): Promise<number | undefined> {
  const { live } = await inspectLocks(sink);
  let oldest = Number.POSITIVE_INFINITY;
  for (const lock of live) {
    const since = lock.record.since ?? (lock.record.sinceFromStore ? lock.lastModified?.toISOString() : undefined);
    if (!since) return undefined;
    oldest = Math.min(oldest, Date.parse(since));
  }
  return live.length ? oldest : undefined;
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
