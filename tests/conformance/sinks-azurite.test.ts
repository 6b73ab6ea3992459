// The Azure Blob sink against azurite on loopback: the shared conformance suite.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError, ObjectNotFoundError, PermanentSinkError } from '../../core/plugins/sink.ts';
import { probeSink } from '../../core/plugins/sink-probe.ts';
import { readAll } from '../../storage/streams.ts';
import { type LoopbackAzure, startAzurite } from '../helpers/azurite.ts';
import { runSinkConformance } from './sink-conformance.ts';

let server: LoopbackAzure;
beforeAll(async () => {
  server = await startAzurite();
  await server.createContainer('conformance');
});
afterAll(async () => {
  await server.stop();
});

runSinkConformance(
  'azure (azurite)',
  async () => ({
    // Small blocks so the large object goes through staged blocks and a block list.
    sink: server.sink('conformance', { blockSizeBytes: 4 * 1024 * 1024, retry: { attempts: 3, baseDelayMs: 20 } }),
    cleanup: async () => {},
  }),
  { largeObjectBytes: 48 * 1024 * 1024 },
);

describe('azure sink specifics', () => {
  const fast = { attempts: 2, baseDelayMs: 10 };

  it('names wrong keys and missing containers in the connection test, without the key', async () => {
    const wrongKey = Buffer.from('definitely not the account key').toString('base64');
    const denied = await probeSink(server.sink('conformance', { accountKey: wrongKey, retry: fast }));
    expect(denied).toMatchObject({ ok: false, step: 'write', reason: 'auth' });
    expect(JSON.stringify(denied)).not.toContain(wrongKey);
    const missing = await probeSink(server.sink('no-such-container', { retry: fast }));
    expect(missing).toMatchObject({ ok: false, reason: 'bucket_missing' });
    if (!missing.ok)
      expect(missing.sentence).toMatch(/bucket or container of azure:devstoreaccount1\/no-such-container/);
    expect(await probeSink(server.sink('conformance', { retry: fast }))).toMatchObject({
      ok: true,
      conditionalWrites: 'native',
    });
  });

  it('stages blocks for big bodies and commits nothing when the body is short', async () => {
    const sink = server.sink('conformance', {
      blockSizeBytes: 1024 * 1024,
      concurrency: 2,
      singlePutMaxBytes: 1024,
      retry: fast,
    });
    const body = randomBytes(3 * 1024 * 1024 + 10);
    await sink.put('data/big', body, { ifAbsent: true, contentLength: body.length });
    expect(sink.requests).toMatchObject({ PutBlock: 4, PutBlockList: 1 });
    expect((await readAll(await sink.get('data/big'))).equals(body)).toBe(true);
    await expect(sink.put('data/big', body, { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
    await expect(sink.put('data/short', body, { contentLength: body.length + 5 })).rejects.toBeInstanceOf(
      PermanentSinkError,
    );
    await expect(sink.head('data/short')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('refuses retention unless an immutability mode is configured', async () => {
    const sink = server.sink('conformance', { retry: fast });
    expect(sink.capabilities.retention).toBe(false);
    await expect(sink.put('r', Buffer.from('x'), { retainUntil: new Date(Date.now() + 60_000) })).rejects.toThrow(
      /no immutability mode/,
    );
  });
});
