// The S3 sink against MinIO, started with testcontainers: the one run of the conformance suite
// against a real S3 implementation that honours If-None-Match (the sink's native if-absent path)
// and pages listings in key order (the full 1000-key listing). Run only by `npm run test:docker`
// (vitest.docker.config.ts), never by `npm test`: without a Docker engine it fails and says why,
// and .ci/run reports the suite as not run instead of running it.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError } from '../../core/plugins/sink.ts';
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
