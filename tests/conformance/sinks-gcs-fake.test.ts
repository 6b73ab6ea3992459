// The GCS sink against the JSON API stand-in in tests/fakes/: the shared conformance suite, with
// small resumable chunks and pages, plus retries through injected 503s; and object retention,
// which the stand-in enforces on its own clock (real GCS object retention is not tested here).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSink } from '../../core/plugins/sink-probe.ts';
import { GcsSink } from '../../plugins/sinks/gcs/gcs-sink.ts';
import { parseServiceAccountKey } from '../../plugins/sinks/gcs/index.ts';
import { readAll } from '../../storage/streams.ts';
import { FakeGcs } from '../fakes/gcs-json-api.ts';
import { runRetentionConformance, runSinkConformance } from './sink-conformance.ts';

let fake: FakeGcs;
beforeAll(async () => {
  fake = await new FakeGcs({ buckets: ['conformance'] }).start();
});
afterAll(async () => {
  await fake.stop();
});

const sink = (options: Partial<ConstructorParameters<typeof GcsSink>[0]> = {}) =>
  new GcsSink({
    bucket: 'conformance',
    prefix: randomUUID(),
    apiEndpoint: fake.endpoint,
    projectId: 'test',
    chunkSizeBytes: 1024 * 1024,
    ...options,
  });

runSinkConformance('gcs (JSON API stand-in)', async () => ({ sink: sink(), cleanup: async () => {} }), {
  largeObjectBytes: 24 * 1024 * 1024,
});

runRetentionConformance(
  'gcs object retention (Locked)',
  async () => {
    fake.now = undefined;
    return {
      sink: sink({ retentionMode: 'Locked', immutabilityDays: 30 }),
      cleanup: async () => {},
      advanceClock: (ms) => {
        fake.now = (fake.now ?? Date.now()) + ms;
      },
    };
  },
  'the JSON API stand-in',
);

describe('gcs sink specifics', () => {
  it('the connection test proves object retention: the store refuses to delete a retained probe', async () => {
    fake.now = undefined;
    expect(await probeSink(sink({ retentionMode: 'Unlocked', immutabilityDays: 7 }))).toMatchObject({
      ok: true,
      locking: { mode: 'Unlocked', days: 7 },
    });
  });

  it('names a missing bucket in the connection test and passes against an existing one', async () => {
    const missing = await probeSink(sink({ bucket: 'no-such-bucket', maxRetries: 0 }));
    expect(missing).toMatchObject({ ok: false, step: 'write', reason: 'bucket_missing' });
    expect(await probeSink(sink())).toMatchObject({ ok: true, conditionalWrites: 'native' });
  });

  it('checks service-account keys without quoting them', () => {
    const key = {
      client_email: 'backup@project.iam.gserviceaccount.com',
      private_key: '-----BEGIN PRIVATE KEY-----\nsecret',
    };
    expect(parseServiceAccountKey(JSON.stringify({ ...key, project_id: 'p1' }))).toEqual({ ...key, project_id: 'p1' });
    expect(() => parseServiceAccountKey('{"private_key": "secret-material"}')).toThrow(/lacks client_email/);
    expect(() => parseServiceAccountKey('not json secret-material')).toThrow(/not valid JSON$/);
  });

  it('retries requests the store fails with 503, for small and resumable uploads and reads', async () => {
    const s = sink({ maxRetries: 4, singleRequestMaxBytes: 1024 });
    const small = randomBytes(1000);
    fake.failNext(1);
    await s.put('data/small', small, { ifAbsent: true });
    const large = randomBytes(3 * 1024 * 1024 + 5);
    fake.failNext(1);
    await s.put('data/large', large, { ifAbsent: true, contentLength: large.length });
    fake.failNext(1);
    expect((await readAll(await s.get('data/large'))).equals(large)).toBe(true);
    expect((await readAll(await s.get('data/small'))).equals(small)).toBe(true);
  });
});
