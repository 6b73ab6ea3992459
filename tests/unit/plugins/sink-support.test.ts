import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { optionName, secretEnvName, settingsFromOptions, sinkCliOptions } from '../../../core/cli-sink-options.ts';
import { sinkPlugins } from '../../../core/plugins/registry.ts';
import { PermanentSinkError, type SinkPlugin, TransientSinkError } from '../../../core/plugins/sink.ts';
import { probeSentence } from '../../../core/plugins/sink-probe.ts';
import { lengthChecked, readParts } from '../../../core/plugins/sink-support/body-streams.ts';
import { KeyedMutex } from '../../../core/plugins/sink-support/keyed-mutex.ts';
import { networkReason } from '../../../core/plugins/sink-support/network-reason.ts';
import { backoffDelay, DEFAULT_RETRY, withRetries } from '../../../core/plugins/sink-support/retry.ts';
import { blockSizeFor } from '../../../plugins/sinks/azure/azure-sink.ts';
import { choosePartSize, MAX_PARTS } from '../../../plugins/sinks/s3/part-size.ts';

const MiB = 1024 * 1024;

async function collect(parts: AsyncIterable<{ number: number; bytes: Buffer; last: boolean }>) {
  const out: [number, number, boolean][] = [];
  for await (const p of parts) out.push([p.number, p.bytes.length, p.last]);
  return out;
}

describe('readParts', () => {
  it('cuts any chunking into exact parts and marks the last', async () => {
    const chunks = [Buffer.alloc(3), Buffer.alloc(0), Buffer.alloc(7), Buffer.alloc(10), Buffer.alloc(1)];
    expect(await collect(readParts(Readable.from(chunks), 5))).toEqual([
      [1, 5, false],
      [2, 5, false],
      [3, 5, false],
      [4, 5, false],
      [5, 1, true],
    ]);
    expect(await collect(readParts(Readable.from([Buffer.alloc(10)]), 5))).toEqual([
      [1, 5, false],
      [2, 5, true],
    ]);
    expect(await collect(readParts(Readable.from([]), 5))).toEqual([[1, 0, true]]);
  });

  it('keeps the bytes in order', async () => {
    const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const parts: Buffer[] = [];
    for await (const p of readParts(Readable.from([data.subarray(0, 4), data.subarray(4, 19), data.subarray(19)]), 6))
      parts.push(p.bytes);
    expect(Buffer.concat(parts).toString()).toBe(data.toString());
  });

  it('fills large parts in place across chunk boundaries', async () => {
    const data = Buffer.from(Array.from({ length: 5 * MiB + 123 }, (_, i) => (i * 7) % 251));
    const chunks: Buffer[] = [];
    for (let at = 0; at < data.length; at += 300_000) chunks.push(data.subarray(at, at + 300_000));
    const parts: { number: number; bytes: Buffer; last: boolean }[] = [];
    for await (const p of readParts(Readable.from(chunks), 2 * MiB)) parts.push(p);
    expect(parts.map((p) => [p.bytes.length, p.last])).toEqual([
      [2 * MiB, false],
      [2 * MiB, false],
      [MiB + 123, true],
    ]);
    expect(Buffer.concat(parts.map((p) => p.bytes)).equals(data)).toBe(true);
  });
});

describe('lengthChecked', () => {
  it('fails short and long bodies before their end is passed on', async () => {
    const read = (chunks: Buffer[], n: number) => collect(readParts(lengthChecked(Readable.from(chunks), n, 'k'), 4));
    await expect(read([Buffer.alloc(5)], 5)).resolves.toHaveLength(2);
    await expect(read([Buffer.alloc(5)], 6)).rejects.toThrow(/5 bytes does not match the declared length 6/);
    await expect(read([Buffer.alloc(5), Buffer.alloc(5)], 6)).rejects.toBeInstanceOf(PermanentSinkError);
  });
});

describe('retries', () => {
  it('waits a jittered, capped, doubling delay', () => {
    expect(backoffDelay(1, DEFAULT_RETRY, () => 1)).toBe(200);
    expect(backoffDelay(3, DEFAULT_RETRY, () => 1)).toBe(800);
    expect(backoffDelay(20, DEFAULT_RETRY, () => 1)).toBe(10_000);
    expect(backoffDelay(3, DEFAULT_RETRY, () => 0.5)).toBe(400);
  });

  it('retries transient errors only, up to the limit', async () => {
    let calls = 0;
    const flaky = () => {
      calls++;
      return calls < 3 ? Promise.reject(new Error('reset')) : Promise.resolve('done');
    };
    const transient = (e: unknown) => new TransientSinkError(String(e));
    expect(await withRetries(flaky, transient, { baseDelayMs: 1 })).toBe('done');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withRetries(flaky, (e) => new PermanentSinkError(String(e)), { baseDelayMs: 1 }),
    ).rejects.toBeInstanceOf(PermanentSinkError);
    expect(calls).toBe(1);
    calls = -10;
    await expect(withRetries(flaky, transient, { attempts: 4, baseDelayMs: 1 })).rejects.toBeInstanceOf(
      TransientSinkError,
    );
    expect(calls).toBe(-6);
  });

  it('runs one operation at a time per key', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const job = (name: string, ms: number) =>
      mutex.run('k', async () => {
        order.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`end ${name}`);
      });
    await Promise.all([job('a', 20), job('b', 1), mutex.run('other', async () => order.push('other'))]);
    expect(order).toEqual(['start a', 'other', 'end a', 'start b', 'end b']);
  });
});

describe('part and block sizes', () => {
  it('fits the largest object in 10,000 S3 parts and never goes below 5 MiB', () => {
    expect(choosePartSize(undefined, 16 * MiB)).toBe(16 * MiB);
    expect(choosePartSize(undefined, MiB)).toBe(5 * MiB);
    expect(choosePartSize(5 * 1024 * MiB, 16 * MiB)).toBe(16 * MiB);
    const huge = 1024 * 1024 * MiB; // 1 TiB
    const part = choosePartSize(huge, 16 * MiB);
    expect(Math.ceil(huge / part)).toBeLessThanOrEqual(MAX_PARTS);
    expect(part % MiB).toBe(0);
  });

  it('fits the largest object in 50,000 Azure blocks', () => {
    expect(blockSizeFor(10 * MiB, 8 * MiB)).toBe(8 * MiB);
    const huge = 1024 * 1024 * MiB;
    expect(Math.ceil(huge / blockSizeFor(huge, 8 * MiB))).toBeLessThanOrEqual(50_000);
  });
});

describe('failure reasons', () => {
  it('recognises DNS, TLS and connection failures through wrapped causes', () => {
    const wrap = (code: string) =>
      Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
    expect(networkReason(wrap('ENOTFOUND'))).toBe('dns');
    expect(networkReason(wrap('ECONNREFUSED'))).toBe('unreachable');
    expect(networkReason(wrap('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe('tls');
    expect(networkReason(wrap('ETIMEDOUT'))).toBe('timeout');
    expect(networkReason(new Error('nothing to see'))).toBeUndefined();
    expect(probeSentence('permission', 's3:b')).toMatch(/^The credentials are valid but lack permission at s3:b/);
  });
});

describe('sink settings on the command line', () => {
  const plugins = sinkPlugins as readonly SinkPlugin<unknown>[];
  const s3 = plugins.find((p) => p.kind === 's3') as SinkPlugin<unknown>;
  const all = new Set(Object.keys(sinkCliOptions(plugins)));

  it('derives option names, kinds and secret variables from the schemas', () => {
    expect(optionName('accessKeyId')).toBe('access-key-id');
    expect(optionName('partSizeMiB')).toBe('part-size-mib');
    expect(secretEnvName('secretAccessKey')).toBe('HOLDFAST_SINK_SECRET_ACCESS_KEY');
    const options = sinkCliOptions(plugins);
    expect(options['force-path-style']).toEqual({ type: 'boolean' });
    expect(options['part-size-mib']).toEqual({ type: 'string' });
    expect(options.container).toEqual({ type: 'string' });
  });

  it('builds settings that the plugin schema accepts, secrets from the environment', () => {
    const settings = settingsFromOptions(
      s3,
      { bucket: 'b1', endpoint: 'http://127.0.0.1:9000', 'force-path-style': true, 'part-size-mib': '32', task: 'x' },
      all,
      { HOLDFAST_SINK_SECRET_ACCESS_KEY: 'from-env' },
    );
    expect(settings).toEqual({
      bucket: 'b1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      partSizeMiB: 32,
      secretAccessKey: 'from-env',
    });
    expect(s3.settings.safeParse(settings).success).toBe(true);
    expect(() => settingsFromOptions(s3, { container: 'c' }, all, {})).toThrow(
      '--container is not a setting of the s3 sink',
    );
    expect(() => settingsFromOptions(s3, { 'part-size-mib': 'big' }, all, {})).toThrow(
      '--part-size-mib takes a number',
    );
  });
});
