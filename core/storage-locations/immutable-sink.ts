// A location with immutability configured (its sink's `immutability`): every pack, index and
// snapshot object the repository writes gets retainUntil = now + the period, so the store itself
// keeps it for that long whatever the appliance (or someone holding its credentials) asks.
// Other keys (keys, config, locks, damage notes) stay unlocked: locks and notes must be removable.
// The lock is renewed for objects still in use by storage/object-locks.ts (run by maintenance).
import type { Readable } from 'node:stream';
import type { PutOptions, Sink } from '../plugins/sink.ts';

/** The repository's immutable objects: what a snapshot needs to be restored. */
export const LOCKED_PREFIXES = ['data/', 'index/', 'snapshots/'] as const;

export const isLockedKey = (key: string): boolean => LOCKED_PREFIXES.some((p) => key.startsWith(p));

export function immutableSink(base: Sink, now: () => number = Date.now): Sink {
  const policy = base.immutability;
  if (!policy) return base;
  const periodMs = policy.days * 86_400_000;
  return {
    description: base.description,
    // A getter: some sinks learn their capabilities on first use.
    get capabilities() {
      return base.capabilities;
    },
    immutability: policy,
    put: (key: string, body: Uint8Array | Readable, options: PutOptions = {}) =>
      base.put(key, body, isLockedKey(key) ? { ...options, retainUntil: new Date(now() + periodMs) } : options),
    get: (key, options) => base.get(key, options),
    head: (key) => base.head(key),
    list: (prefix) => base.list(prefix),
    delete: (key) => base.delete(key),
    close: () => base.close(),
    ...(base.extendRetention
      ? { extendRetention: (key: string, until: Date) => base.extendRetention?.(key, until) as Promise<void> }
      : {}),
  };
}
