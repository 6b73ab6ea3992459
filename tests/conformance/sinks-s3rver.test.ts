// The S3 sink against s3rver on loopback: the shared conformance suite, plus what is S3-specific
// (multipart uploads, the if-absent fallback, retries through an outage, typed errors). s3rver
// cannot prove the native If-None-Match path or paged listings: the case names say so.
import { randomBytes, randomUUID } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError, ObjectNotFoundError, PermanentSinkError } from '../../core/plugins/sink.ts';
import { probeSink } from '../../core/plugins/sink-probe.ts';
import type { S3Sink } from '../../plugins/sinks/s3/s3-sink.ts';
import { readAll } from '../../storage/streams.ts';
import { type LoopbackS3, startS3rver } from '../helpers/s3rver.ts';
import { runSinkConformance } from './sink-conformance.ts';

let server: LoopbackS3;
beforeAll(async () => {
  server = await startS3rver(['conformance']);
});
afterAll(async () => {
  await server.stop();
});

runSinkConformance(
  's3 (s3rver)',
  async () => ({
    // Small parts so the large object goes through the multipart path.
    sink: server.sink({ partSizeBytes: 5 * 1024 * 1024, retry: { attempts: 3, baseDelayMs: 20 } }),
    cleanup: async () => {},
  }),
  // What this run does not prove about the S3 sink (only the MinIO run, `npm run test:docker`,
  // does; see tests/README.md): s3rver ignores If-None-Match, so the if-absent cases exercise the
  // sink's emulation, not the store's refusal; and s3rver pages listings in its folder-walk order,
  // not key order (a listing of more than one page across data/ and data-extra/ loses keys), so
  // the listing fits in one page here. The sink's paging is checked below with a stubbed client.
  {
    largeObjectBytes: 48 * 1024 * 1024,
    listingKeys: 990,
    emulatedIfAbsent: 's3rver ignores If-None-Match',
    onePageListing: 's3rver mis-pages listings across folders',
  },
);

describe('s3 sink specifics', () => {
  const fast = { attempts: 2, baseDelayMs: 10 };

  it('finds that s3rver ignores If-None-Match and emulates if-absent writes', async () => {
    const sink = server.sink({ retry: fast });
    expect(sink.capabilities.conditionalWrites).toBe('emulated');
    await sink.put('config', Buffer.from('one'), { ifAbsent: true });
    await expect(sink.put('config', Buffer.from('two'), { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect(sink.capabilities.conditionalWrites).toBe('emulated');
    // The check's own object is gone and never listed.
    const keys: string[] = [];
    for await (const info of sink.list('')) keys.push(info.key);
    expect(keys).toEqual(['config']);
  });

  it('checks a store once: a second sink on the same bucket and prefix writes if-absent without checking again', async () => {
    const prefix = randomUUID();
    const first = server.sink({ prefix, retry: fast });
    await first.put('config', Buffer.from('one'), { ifAbsent: true });
    expect(first.requests).toEqual({ PutObject: 3, DeleteObject: 1, HeadObject: 1 });
    const second = server.sink({ prefix, retry: fast });
    await expect(second.put('config', Buffer.from('two'), { ifAbsent: true })).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    await second.put('keys/a', Buffer.from('three'), { ifAbsent: true });
    expect(second.requests).toEqual({ HeadObject: 2, PutObject: 1 });
    expect(second.capabilities.conditionalWrites).toBe('emulated');
  });

  it('takes the native path where the store refuses If-None-Match creates (a stubbed client that answers 412 as S3 does, not s3rver)', async () => {
    const sink = server.sink({ retry: fast });
    const stored = new Set<string>();
    const sent: string[] = [];
    sink.client.send = (async (command: {
      constructor: { name: string };
      input: { Key: string; IfNoneMatch?: string };
    }) => {
      const { Key, IfNoneMatch } = command.input;
      sent.push(`${command.constructor.name}${IfNoneMatch ? ' If-None-Match' : ''}`);
      if (command.constructor.name === 'DeleteObjectCommand') stored.delete(Key);
      if (command.constructor.name === 'PutObjectCommand') {
        if (IfNoneMatch === '*' && stored.has(Key)) {
          throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
            name: 'PreconditionFailed',
            $metadata: { httpStatusCode: 412 },
          });
        }
        stored.add(Key);
      }
      return {};
    }) as unknown as typeof sink.client.send;
    await sink.put('config', Buffer.from('one'), { ifAbsent: true });
    expect(sink.capabilities.conditionalWrites).toBe('native');
    await expect(sink.put('config', Buffer.from('two'), { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
    // Detection (two conditional creates of a check object, then its delete), then two conditional
    // PUTs of the key itself: no HEAD-then-PUT emulation.
    expect(sent).toEqual([
      'PutObjectCommand If-None-Match',
      'PutObjectCommand If-None-Match',
      'DeleteObjectCommand',
      'PutObjectCommand If-None-Match',
      'PutObjectCommand If-None-Match',
    ]);
  });

  it('uploads big bodies in bounded parts and aborts the upload when the body breaks', async () => {
    const sink = server.sink({ partSizeBytes: 5 * 1024 * 1024, concurrency: 2, singlePutMaxBytes: 1024, retry: fast });
    const body = randomBytes(12 * 1024 * 1024);
    await sink.put('data/big', body, { contentLength: body.length });
    expect(sink.requests).toMatchObject({ CreateMultipartUpload: 1, UploadPart: 3, CompleteMultipartUpload: 1 });
    expect(
      (await readAll(await sink.get('data/big', { offset: 5 * 1024 * 1024 - 3, length: 10 }))).equals(
        body.subarray(5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 7),
      ),
    ).toBe(true);
    await expect(sink.put('data/short', body, { contentLength: body.length + 1 })).rejects.toBeInstanceOf(
      PermanentSinkError,
    );
    expect(sink.requests.AbortMultipartUpload).toBe(1);
    await expect(sink.head('data/short')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('names the cause of a failed connection test in one sentence, without secrets', async () => {
    const secret = 'not-the-right-secret-0123456789';
    const cases: [string, S3Sink, string, RegExp][] = [
      [
        // s3rver checks access key ids but not V4 signatures.
        'wrong credentials',
        server.sink({ accessKeyId: 'NOT-A-KEY', secretAccessKey: secret, retry: fast }),
        'auth',
        /refused the credentials: check the access key and secret/,
      ],
      ['missing bucket', server.sink({ bucket: 'no-such-bucket', retry: fast }), 'bucket_missing', /does not exist/],
      [
        'nothing listening',
        server.sink({ endpoint: `http://127.0.0.1:${await closedPort()}`, retry: fast }),
        'unreachable',
        /Nothing answered at s3:127\.0\.0\.1:\d+\/conformance/,
      ],
      [
        'unknown host',
        server.sink({ endpoint: 'http://holdfast-test.invalid:9000', retry: fast }),
        'dns',
        /could not be found \(DNS\)/,
      ],
      [
        'TLS to a plain HTTP port',
        server.sink({ endpoint: server.endpoint.replace('http:', 'https:'), retry: fast }),
        'tls',
        /secure \(TLS\) connection/,
      ],
    ];
    for (const [what, sink, reason, sentence] of cases) {
      const result = await probeSink(sink);
      expect(result.ok, what).toBe(false);
      if (result.ok) continue;
      expect(result.reason, what).toBe(reason);
      expect(result.sentence, what).toMatch(sentence);
      expect(JSON.stringify(result), what).not.toContain(secret);
      await sink.close();
    }
    const ok = await probeSink(server.sink({ retry: fast }));
    expect(ok).toMatchObject({ ok: true, conditionalWrites: 'emulated' });
  });

  it('keeps the secret out of its description and errors', async () => {
    const secret = 'super-secret-value-abcdef';
    const sink = server.sink({ accessKeyId: 'NOT-A-KEY', secretAccessKey: secret, retry: fast });
    expect(sink.description).not.toContain(secret);
    const err = await sink.put('x', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentSinkError);
    expect(`${(err as Error).message} ${(err as Error).stack}`).not.toContain(secret);
  });

  it('follows continuation tokens through every page of a listing (a stubbed client, not s3rver)', async () => {
    const sink = server.sink();
    const pages = [
      { Contents: [{ Key: `${'p/'}a`, Size: 1 }], IsTruncated: true, NextContinuationToken: 't1' },
      {
        Contents: [
          { Key: 'p/.holdfast/internal', Size: 0 },
          { Key: 'p/b', Size: 2 },
        ],
        IsTruncated: true,
        NextContinuationToken: 't2',
      },
      { Contents: [{ Key: 'p/c', Size: 3 }], IsTruncated: false },
    ];
    const tokens: (string | undefined)[] = [];
    const paged = server.sink({ prefix: 'p' });
    paged.client.send = (async (command: { input: { ContinuationToken?: string } }) => {
      tokens.push(command.input.ContinuationToken);
      return pages[tokens.length - 1];
    }) as unknown as typeof paged.client.send;
    const listed: string[] = [];
    for await (const info of paged.list('')) listed.push(`${info.key}:${info.size}`);
    expect(listed).toEqual(['a:1', 'b:2', 'c:3']);
    expect(tokens).toEqual([undefined, 't1', 't2']);
    await sink.close();
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
