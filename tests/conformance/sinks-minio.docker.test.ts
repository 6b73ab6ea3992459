// The S3 sink against MinIO, started with testcontainers: the one run of the conformance suite
// against a real S3 implementation that honours If-None-Match (the sink's native if-absent path)
// and pages listings in key order (the full 1000-key listing), and the one run of Object Lock on
// a real store (a bucket created with Object Lock: the store itself refuses to delete a locked
// version; lapsing needs the store's clock, so expiry is proven only against the loopback gate). Run only by `npm run test:docker`
// (vitest.docker.config.ts), never by `npm test`: without a Docker engine it fails and says why,
// and .ci/run reports the suite as not run instead of running it.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError, ObjectLockedError } from '../../core/plugins/sink.ts';
import { probeSink } from '../../core/plugins/sink-probe.ts';
import { S3Sink } from '../../plugins/sinks/s3/s3-sink.ts';
import { dockerStatus } from '../helpers/docker.ts';
import { runSinkConformance } from './sink-conformance.ts';

const credentials = { accessKeyId: 'holdfast-test', secretAccessKey: 'holdfast-test-secret' };

let container: StartedTestContainer | undefined;
let endpoint = '';
beforeAll(async () => {
  const docker = await dockerStatus();
  if (!docker.reachable) throw new Error(`the MinIO suite needs a Docker engine, and none answers: ${docker.reason}`);
  container = await new GenericContainer('minio/minio:latest')
    .withCommand(['server', '/data'])
    .withEnvironment({ MINIO_ROOT_USER: credentials.accessKeyId, MINIO_ROOT_PASSWORD: credentials.secretAccessKey })
    .withExposedPorts(9000)
    .withWaitStrategy(Wait.forHttp('/minio/health/live', 9000))
    .start();
  endpoint = `http://${container.getHost()}:${container.getMappedPort(9000)}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  await client.send(new CreateBucketCommand({ Bucket: 'conformance' }));
  await client.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
  client.destroy();
});
afterAll(async () => {
  await container?.stop();
});

const sink = () =>
  new S3Sink({
    endpoint,
    region: 'us-east-1',
    bucket: 'conformance',
    prefix: crypto.randomUUID(),
    forcePathStyle: true,
    partSizeBytes: 5 * 1024 * 1024,
    ...credentials,
  });

runSinkConformance('s3 (MinIO)', async () => ({ sink: sink(), cleanup: async () => {} }));

describe('s3 sink on MinIO', () => {
  it('uses the store’s own If-None-Match creates', async () => {
    const s = sink();
    await s.put('config', Buffer.from('x'), { ifAbsent: true });
    expect(s.capabilities.conditionalWrites).toBe('native');
    await expect(s.put('config', Buffer.from('y'), { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
    await s.close();
  });
});

describe('s3 Object Lock on MinIO', () => {
  const locked = () =>
    new S3Sink({
      endpoint,
      region: 'us-east-1',
      bucket: 'locked',
      prefix: crypto.randomUUID(),
      forcePathStyle: true,
      objectLockMode: 'GOVERNANCE',
      immutabilityDays: 1,
      ...credentials,
    });

  it('refuses to delete a locked pack with the appliance’s own credentials, and the connection test proves it', async () => {
    const s = locked();
    await s.put('data/ab/pack', Buffer.from('pack'), { retainUntil: new Date(Date.now() + 86_400_000) });
    expect((await s.head('data/ab/pack')).retainUntil).toBeInstanceOf(Date);
    await expect(s.delete('data/ab/pack')).rejects.toBeInstanceOf(ObjectLockedError);
    expect(await probeSink(s)).toMatchObject({ ok: true, locking: { mode: 'GOVERNANCE', days: 1 } });
    await s.close();
  });
});
