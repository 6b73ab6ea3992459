// The S3 sink against MinIO, started with testcontainers when a Docker engine is reachable. Where
// none is, this file runs one test that prints why and passes only if Docker is still unreachable
// when it checks again: the conformance run is never skipped silently, and CI's rule against
// skipped tests holds. (Docker-less machines run the S3 sink's conformance against s3rver.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Sink } from '../../plugins/sinks/s3/s3-sink.ts';
import { dockerStatus } from '../helpers/docker.ts';
import { runSinkConformance } from './sink-conformance.ts';

const docker = await dockerStatus();
const credentials = { accessKeyId: 'holdfast-test', secretAccessKey: 'holdfast-test-secret' };

if (docker.reachable) {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  let container: Awaited<ReturnType<InstanceType<typeof GenericContainer>['start']>>;
  let endpoint = '';
  beforeAll(async () => {
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
  }, 180_000);
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
      await s.close();
    });
  });
} else {
  describe('sink conformance: s3 (MinIO)', () => {
    it(`is not run: no Docker engine is reachable (${docker.reason})`, async () => {
      console.log(`MinIO conformance not run: no Docker engine is reachable (${docker.reason}).`);
      expect((await dockerStatus()).reachable).toBe(false);
    });
  });
}
