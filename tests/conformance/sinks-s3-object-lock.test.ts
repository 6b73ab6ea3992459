// The S3 sink with Object Lock. s3rver accepts Object Lock headers and enforces nothing (the first
// case shows it), so the locks are enforced by tests/fakes/s3-object-lock-gate.ts, a loopback gate
// in front of s3rver that answers the Object Lock requests the AWS SDK sends as S3 does. The same
// proof against a real Object Lock store is the MinIO run (`npm run test:docker`), not run here.
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectLockedError } from '../../core/plugins/sink.ts';
import { probeSink } from '../../core/plugins/sink-probe.ts';
import { type ObjectLockGate, startObjectLockGate } from '../fakes/s3-object-lock-gate.ts';
import { type LoopbackS3, startS3rver } from '../helpers/s3rver.ts';
import { runRetentionConformance } from './sink-conformance.ts';

let server: LoopbackS3;
let gate: ObjectLockGate;
beforeAll(async () => {
  server = await startS3rver(['locked']);
  gate = await startObjectLockGate(server.endpoint);
});
afterAll(async () => {
  await gate.close();
  await server.stop();
});

const locked = (mode: 'GOVERNANCE' | 'COMPLIANCE' = 'COMPLIANCE') =>
  server.sink({
    endpoint: gate.endpoint,
    objectLockMode: mode,
    immutabilityDays: 30,
    partSizeBytes: 5 * 1024 * 1024,
    singlePutMaxBytes: 1024 * 1024,
    retry: { attempts: 2, baseDelayMs: 10 },
  });

runRetentionConformance(
  's3 Object Lock (COMPLIANCE)',
  async () => {
    gate.clock.now = undefined;
    return {
      sink: locked(),
      cleanup: async () => {},
      advanceClock: (ms) => {
        gate.clock.now = (gate.clock.now ?? Date.now()) + ms;
      },
    };
  },
  'a loopback Object Lock gate in front of s3rver',
);

describe('s3 Object Lock specifics', () => {
  it('s3rver alone does not enforce Object Lock: a locked object is deleted (why the gate exists)', async () => {
    const direct = server.sink({ objectLockMode: 'COMPLIANCE', immutabilityDays: 30 });
    await direct.put('data/unprotected', Buffer.from('x'), { retainUntil: new Date(Date.now() + 3_600_000) });
    await direct.delete('data/unprotected');
    const probe = await probeSink(direct);
    expect(probe).toMatchObject({ ok: false, step: 'lock', reason: 'lock_not_enforced' });
    if (!probe.ok) expect(probe.sentence).toMatch(/deleted a locked test object: enable Object Lock/);
  });

  it('the connection test proves the lock: the store refuses to delete a locked probe', async () => {
    gate.clock.now = undefined;
    const probe = await probeSink(locked('GOVERNANCE'));
    expect(probe).toMatchObject({ ok: true, locking: { mode: 'GOVERNANCE', days: 30 } });
    expect(gate.refused.filter((r) => r.includes('holdfast-connection-test/locked/'))).toHaveLength(1);
  });

  it('refuses a raw DeleteObject of a locked pack, version id and all, with the appliance’s own credentials', async () => {
    gate.clock.now = undefined;
    const sink = locked();
    await sink.put('data/cd/pack', Buffer.from('pack bytes'), { retainUntil: new Date(Date.now() + 86_400_000) });
    const Key = `${sink.description.split('/').slice(2).join('/')}/data/cd/pack`;
    const head = await sink.client.send(new HeadObjectCommand({ Bucket: 'locked', Key }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    await expect(
      sink.client.send(new DeleteObjectCommand({ Bucket: 'locked', Key, VersionId: head.VersionId })),
    ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    await expect(sink.delete('data/cd/pack')).rejects.toBeInstanceOf(ObjectLockedError);
    // A lock is never shortened, in either mode, without the bypass the appliance never sends.
    await expect(sink.extendRetention('data/cd/pack', new Date(Date.now() + 60_000))).rejects.toMatchObject({
      reason: 'permission',
    });
  });
});
