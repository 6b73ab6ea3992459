// The sink conformance suite. Every sink runs it (and plugin authors run it on theirs):
//
//   runSinkConformance('my-sink', async () => ({ sink, cleanup }));
//
// It checks the guarantees documented in core/plugins/sink.ts, including under injected faults.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ObjectExistsError,
  ObjectLockedError,
  ObjectNotFoundError,
  PermanentSinkError,
  type Sink,
  SinkError,
} from '../../core/plugins/sink.ts';
import { readAll } from '../../storage/streams.ts';
import { FaultySink } from './faulty-sink.ts';

export interface SinkUnderTest {
  sink: Sink;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /** Size of the large streamed object (default 64 MiB). */
  largeObjectBytes?: number;
  /** How many keys the listing test writes (default 1000). */
  listingKeys?: number;
  /**
   * Why this store's run cannot prove that the store itself refuses a second create-if-absent
   * (it ignores If-None-Match, so the sink emulates it): the if-absent cases then say in their
   * names that they prove the sink's emulation only.
   */
  emulatedIfAbsent?: string;
  /** Why this store's run lists in one page only: the listing case then says paging is not proven. */
  onePageListing?: string;
}

async function keysOf(sink: Sink, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of sink.list(prefix)) keys.push(info.key);
  return keys.sort();
}

/** Deterministic incompressible bytes (AES-CTR keystream of a seed), generated as read, never held whole. */
export function generated(size: number, seed: number): { stream: () => Readable; sha256: string } {
  function* chunks(): Generator<Buffer> {
    const key = createHash('sha256').update(`seed ${seed}`).digest().subarray(0, 16);
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(256 * 1024);
    for (let left = size; left > 0; left -= zeros.length) {
      yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
    }
  }
  const hash = createHash('sha256');
  for (const chunk of chunks()) hash.update(chunk);
  return { stream: () => Readable.from(chunks()), sha256: hash.digest('hex') };
}

async function expectRejects(promise: Promise<unknown>, type: new (...args: never[]) => SinkError): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(type);
}

export function runSinkConformance(
  name: string,
  factory: () => Promise<SinkUnderTest>,
  options: ConformanceOptions = {},
): void {
  const largeBytes = options.largeObjectBytes ?? 64 * 1024 * 1024;
  const listingKeys = options.listingKeys ?? 1000;
  // What a run does not prove goes into the names of the cases concerned, so a green run claims
  // no more than it checked.
  const ifAbsentNote = options.emulatedIfAbsent
    ? ` (through the sink's if-absent emulation: ${options.emulatedIfAbsent}; the store's own refusal is not proven here)`
    : '';
  const listingNote = options.onePageListing
    ? ` in one page (${options.onePageListing}; listings of several pages are not proven here)`
    : '';

  describe(`sink conformance: ${name}`, () => {
    let t: SinkUnderTest;
    let sink: Sink;
    beforeEach(async () => {
      t = await factory();
      sink = t.sink;
    });
    afterEach(async () => {
      await t.sink.close();
      await t.cleanup();
    });

    it('reads back what it wrote, immediately (bytes, empty, unicode keys)', async () => {
      const body = randomBytes(100_000);
      const info = await sink.put('data/ab/pack-1', body);
      expect(info).toMatchObject({ key: 'data/ab/pack-1', size: body.length });
      expect((await readAll(await sink.get('data/ab/pack-1'))).equals(body)).toBe(true);
      expect(await sink.head('data/ab/pack-1')).toMatchObject({ key: 'data/ab/pack-1', size: body.length });
      expect(await keysOf(sink, '')).toEqual(['data/ab/pack-1']);

      await sink.put('empty', new Uint8Array(0));
      expect((await sink.head('empty')).size).toBe(0);
      expect((await readAll(await sink.get('empty'))).length).toBe(0);

      const unicode = 'snapshots/Relevé de compte 文件 🚀';
      await sink.put(unicode, Buffer.from('ünïcödé'));
      expect((await readAll(await sink.get(unicode))).toString()).toBe('ünïcödé');
      expect(await keysOf(sink, 'snapshots/')).toEqual([unicode]);
    });

    it(`streams a large object (${Math.round(largeBytes / 1048576)} MiB) in and out`, async () => {
      const data = generated(largeBytes, 1);
      const info = await sink.put('data/large', data.stream(), { contentLength: largeBytes });
      expect(info.size).toBe(largeBytes);
      const hash = createHash('sha256');
      for await (const chunk of await sink.get('data/large')) hash.update(chunk);
      expect(hash.digest('hex')).toBe(data.sha256);
    });

    it('calls onBodyRead at most once, when it no longer needs the body (wiping it then changes nothing)', async () => {
      const pieces = Array.from({ length: 8 }, () => randomBytes(300_000));
      const original = Buffer.concat(pieces);
      let calls = 0;
      const body = Readable.from(pieces);
      let bodyEnded = false;
      body.on('end', () => {
        bodyEnded = true;
      });
      await sink.put('data/read-early', body, {
        contentLength: original.length,
        onBodyRead: () => {
          calls++;
          expect(bodyEnded).toBe(true);
          // The caller frees (here: overwrites) its memory at once.
          for (const p of pieces) p.fill(0);
        },
      });
      expect(calls).toBeLessThanOrEqual(1);
      expect((await readAll(await sink.get('data/read-early'))).equals(original)).toBe(true);
    });

    it('calls onChunkWritten only with chunks of a stream body, once each, when it no longer needs them', async () => {
      const pieces = Array.from({ length: 8 }, () => randomBytes(300_000));
      const original = Buffer.concat(pieces);
      const written: Uint8Array[] = [];
      await sink.put('data/chunks-freed', Readable.from(pieces), {
        contentLength: original.length,
        onChunkWritten: (chunk) => {
          written.push(chunk);
          // The caller frees (here: overwrites) the chunk at once.
          (chunk as Buffer).fill(0);
        },
      });
      // Sinks may leave the chunks to the collector (no calls); calls name each chunk once.
      expect(new Set(written).size).toBe(written.length);
      for (const chunk of written) expect(pieces).toContain(chunk);
      expect((await readAll(await sink.get('data/chunks-freed'))).equals(original)).toBe(true);
      // A body given as one buffer is the caller's own: never handed back.
      const whole = randomBytes(1000);
      let calls = 0;
      await sink.put('data/whole', whole, { onChunkWritten: () => calls++ });
      expect(calls).toBe(0);
    });

    it('serves byte ranges', async () => {
      const body = randomBytes(10_000);
      await sink.put('r', body);
      const range = async (offset?: number, length?: number) =>
        readAll(
          await sink.get('r', {
            ...(offset === undefined ? {} : { offset }),
            ...(length === undefined ? {} : { length }),
          }),
        );
      expect((await range(0, 10)).equals(body.subarray(0, 10))).toBe(true);
      expect((await range(5000, 1234)).equals(body.subarray(5000, 6234))).toBe(true);
      expect((await range(9990, 100)).equals(body.subarray(9990))).toBe(true);
      expect((await range(4000)).equals(body.subarray(4000))).toBe(true);
      expect((await range(10_000, 5)).length).toBe(0);
      expect((await range(3, 0)).length).toBe(0);
      await expectRejects(sink.get('r', { offset: 10_001 }), PermanentSinkError);
      await expectRejects(sink.get('r', { offset: -1 }), PermanentSinkError);
      await expectRejects(sink.get('r', { offset: 0, length: 1.5 }), PermanentSinkError);
    });

    it('without retention configured, refuses retainUntil before anything is stored', async () => {
      expect([sink.capabilities.retention, sink.immutability]).toEqual([false, undefined]);
      await expectRejects(
        sink.put('data/locked', Buffer.from('x'), { retainUntil: new Date(Date.now() + 60_000) }),
        PermanentSinkError,
      );
      await expectRejects(sink.head('data/locked'), ObjectNotFoundError);
    });

    it('reports missing keys as ObjectNotFoundError and deletes idempotently', async () => {
      await expectRejects(sink.get('nope/missing'), ObjectNotFoundError);
      await expectRejects(sink.head('nope/missing'), ObjectNotFoundError);
      await expect(sink.delete('nope/missing')).resolves.toBeUndefined();
      await sink.put('keys/k1', Buffer.from('x'));
      await sink.delete('keys/k1');
      await expectRejects(sink.head('keys/k1'), ObjectNotFoundError);
      await expectRejects(sink.get('keys/k1'), ObjectNotFoundError);
      expect(await keysOf(sink, '')).toEqual([]);
      await sink.delete('keys/k1');
    });

    it(`overwrites without ifAbsent, refuses with it${ifAbsentNote}`, async () => {
      await sink.put('locks/l', Buffer.from('first'));
      await sink.put('locks/l', Buffer.from('second'));
      expect((await readAll(await sink.get('locks/l'))).toString()).toBe('second');
      await expectRejects(sink.put('locks/l', Buffer.from('third'), { ifAbsent: true }), ObjectExistsError);
      expect((await readAll(await sink.get('locks/l'))).toString()).toBe('second');
    });

    it(`lets exactly one of many racing ifAbsent writers win${ifAbsentNote}`, async () => {
      const bodies = Array.from({ length: 12 }, (_, i) => Buffer.from(`writer ${i} `.repeat(2000)));
      const results = await Promise.allSettled(bodies.map((b) => sink.put('config', b, { ifAbsent: true })));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExistsError);
      }
      const stored = await readAll(await sink.get('config'));
      expect(stored.equals(bodies[winners[0] as number] as Buffer)).toBe(true);
    });

    it(`lists ${listingKeys} keys by prefix, each exactly once${listingNote}`, async () => {
      const written: string[] = [];
      for (let i = 0; i < listingKeys; i++) {
        const key = `data/${(i % 16).toString(16).padStart(2, '0')}/p${i}`;
        written.push(key);
      }
      written.push('index/i1', 'index/i2', 'data-extra/x', 'snapshots/s1', 'snapshot');
      for (let i = 0; i < written.length; i += 50) {
        await Promise.all(written.slice(i, i + 50).map((k) => sink.put(k, Buffer.from(k))));
      }
      const all = await keysOf(sink, '');
      expect(all).toEqual([...written].sort());
      expect(await keysOf(sink, 'index/')).toEqual(['index/i1', 'index/i2']);
      expect((await keysOf(sink, 'data/')).length).toBe(listingKeys);
      expect(await keysOf(sink, 'data/0a/')).toEqual(written.filter((k) => k.startsWith('data/0a/')).sort());
      // A prefix that ends mid-segment matches keys and folders alike.
      expect(await keysOf(sink, 'data')).toEqual(written.filter((k) => k.startsWith('data')).sort());
      expect(await keysOf(sink, 'snapshot')).toEqual(['snapshot', 'snapshots/s1']);
      expect(await keysOf(sink, 'nothing/')).toEqual([]);
      let sizes = 0;
      for await (const info of sink.list('index/')) sizes += info.size;
      expect(sizes).toBe('index/i1'.length * 2);
    });

    it('rejects invalid keys before touching the store', async () => {
      for (const bad of [
        '',
        '/abs',
        'a//b',
        'a/',
        'a/../b',
        '.hidden',
        'a/.tmp/x',
        'back\\slash',
        'nul\u0000',
        'x'.repeat(1025),
      ]) {
        await expectRejects(sink.put(bad, Buffer.from('x')), PermanentSinkError);
        await expectRejects(sink.get(bad), PermanentSinkError);
      }
      expect(await keysOf(sink, '')).toEqual([]);
    });

    it('writes many keys concurrently', async () => {
      const keys = Array.from({ length: 60 }, (_, i) => `data/c${i % 4}/obj-${i}`);
      await Promise.all(keys.map((k) => sink.put(k, Buffer.from(k.repeat(100)))));
      for (const k of keys) expect((await readAll(await sink.get(k))).toString()).toBe(k.repeat(100));
    });

    describe('under injected write faults, never exposes a partial object', () => {
      async function expectAbsent(key: string): Promise<void> {
        await expectRejects(sink.head(key), ObjectNotFoundError);
        await expectRejects(sink.get(key), ObjectNotFoundError);
        expect(await keysOf(sink, '')).not.toContain(key);
      }

      it('a write whose body fails before its first byte, then a put of the same key that succeeds', async () => {
        // The sink itself gets the body: a stream that errors on its first read. Both with a
        // declared length (one request) and without (streamed or multipart).
        const brokenBody = () =>
          new Readable({
            read() {
              this.destroy(new Error('injected fault: the body failed before its first byte'));
            },
          });
        for (const [key, options] of [
          ['data/f1', { contentLength: 1000 }],
          ['data/f1-unsized', {}],
        ] as const) {
          await expect(sink.put(key, brokenBody(), options)).rejects.toBeInstanceOf(SinkError);
          await expectAbsent(key);
          // Nothing half-made blocks the key: a create-if-absent of it now succeeds.
          const body = randomBytes(1000);
          await sink.put(key, body, { ifAbsent: true, contentLength: body.length });
          expect((await readAll(await sink.get(key))).equals(body)).toBe(true);
        }
      });

      it('a body that ends early (truncated) against its declared length', async () => {
        const faulty = new FaultySink(sink, () => ({ kind: 'truncate', afterBytes: 70_000 }));
        await expect(faulty.put('data/f2', randomBytes(200_000), { contentLength: 200_000 })).rejects.toBeInstanceOf(
          PermanentSinkError,
        );
        await expectAbsent('data/f2');
        await expect(sink.put('data/f3', randomBytes(10), { contentLength: 11 })).rejects.toBeInstanceOf(
          PermanentSinkError,
        );
        await expectAbsent('data/f3');
      });

      it('a body stream that breaks midway, then a retry that succeeds', async () => {
        const body = randomBytes(300_000);
        const faulty = new FaultySink(sink, (_key, attempt) =>
          attempt === 1 ? { kind: 'error-midway', afterBytes: 100_000 } : undefined,
        );
        await expect(faulty.put('data/f4', Readable.from([body]), { ifAbsent: true })).rejects.toBeInstanceOf(
          SinkError,
        );
        await expectAbsent('data/f4');
        await faulty.put('data/f4', body, { ifAbsent: true, contentLength: body.length });
        expect((await readAll(await sink.get('data/f4'))).equals(body)).toBe(true);
      });

      it('a slow write is invisible until it completes', async () => {
        const body = randomBytes(64 * 1024);
        const faulty = new FaultySink(sink, () => ({ kind: 'slow', delayMs: 15, chunkBytes: 4096 }));
        let done = false;
        const writing = faulty.put('data/slow', body, { contentLength: body.length }).then((info) => {
          done = true;
          return info;
        });
        let checks = 0;
        while (!done) {
          try {
            const info = await sink.head('data/slow');
            // Visible only at the instant the write completes, and then whole.
            expect(info.size).toBe(body.length);
          } catch (err) {
            expect(err).toBeInstanceOf(ObjectNotFoundError);
          }
          checks++;
          await sleep(5);
        }
        await writing;
        expect(checks).toBeGreaterThan(3);
        expect((await readAll(await sink.get('data/slow'))).equals(body)).toBe(true);
      });
    });
  });
}

export interface LockingSinkUnderTest extends SinkUnderTest {
  /** Moves the store's clock forward (its locks lapse by its own clock). */
  advanceClock(ms: number): void;
}

/**
 * The retention part of the contract, for sinks configured with immutability on a store that
 * enforces it: a locked object cannot be deleted (ObjectLockedError, bytes intact), head reports
 * the lock, extendRetention moves it later, and once the store's clock passes it the delete works.
 */
export function runRetentionConformance(
  name: string,
  factory: () => Promise<LockingSinkUnderTest>,
  enforcedBy: string,
): void {
  describe(`sink retention conformance: ${name} (enforced by ${enforcedBy})`, () => {
    let t: LockingSinkUnderTest;
    beforeEach(async () => {
      t = await factory();
    });
    afterEach(async () => {
      await t.sink.close();
      await t.cleanup();
    });

    it('reports its immutability and retention capability', () => {
      expect(t.sink.capabilities.retention).toBe(true);
      expect(t.sink.immutability?.days).toBeGreaterThan(0);
      expect(typeof t.sink.extendRetention).toBe('function');
    });

    it('refuses to delete a locked object, which stays whole, and deletes it once the lock lapses', async () => {
      const body = randomBytes(70_000);
      const until = new Date(Date.now() + 3_600_000);
      await t.sink.put('data/aa/locked-pack', body, { ifAbsent: true, contentLength: body.length, retainUntil: until });
      const head = await t.sink.head('data/aa/locked-pack');
      expect(Math.abs((head.retainUntil?.getTime() ?? 0) - until.getTime())).toBeLessThan(1000);
      const refused = t.sink.delete('data/aa/locked-pack');
      await expectRejects(refused, ObjectLockedError);
      expect((await readAll(await t.sink.get('data/aa/locked-pack'))).equals(body)).toBe(true);
      t.advanceClock(3_600_000 + 1000);
      await t.sink.delete('data/aa/locked-pack');
      await expectRejects(t.sink.head('data/aa/locked-pack'), ObjectNotFoundError);
    });

    it('extends a lock, which then holds past the first end', async () => {
      const until = new Date(Date.now() + 3_600_000);
      await t.sink.put('index/locked', Buffer.from('index'), { retainUntil: until });
      const later = new Date(until.getTime() + 86_400_000);
      await t.sink.extendRetention?.('index/locked', later);
      expect(
        Math.abs(((await t.sink.head('index/locked')).retainUntil?.getTime() ?? 0) - later.getTime()),
      ).toBeLessThan(1000);
      t.advanceClock(2 * 3_600_000);
      await expectRejects(t.sink.delete('index/locked'), ObjectLockedError);
      t.advanceClock(86_400_000);
      await t.sink.delete('index/locked');
      await expectRejects(t.sink.head('index/locked'), ObjectNotFoundError);
    });

    it('writes large locked objects through its multipart path too', async () => {
      const big = generated(12 * 1024 * 1024, 7);
      const until = new Date(Date.now() + 3_600_000);
      await t.sink.put('data/bb/big-locked', big.stream(), { retainUntil: until });
      expect((await t.sink.head('data/bb/big-locked')).retainUntil).toBeInstanceOf(Date);
      await expectRejects(t.sink.delete('data/bb/big-locked'), ObjectLockedError);
      t.advanceClock(3_600_000 + 1000);
      await t.sink.delete('data/bb/big-locked');
    });
  });
}
