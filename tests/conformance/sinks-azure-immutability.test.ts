// The Azure sink with version-level immutability. Azurite 3.36 does not implement it (Set Blob
// Immutability Policy answers 501, Put Blob ignores the policy headers: Azure/Azurite#2648; the
// first case shows a "locked" blob deleted), so policies are enforced by tests/fakes/
// azure-immutability-gate.ts, a loopback gate in front of azurite that answers the requests the
// Azure SDK sends as Azure does. A real container with version-level immutability is not tested here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectLockedError } from '../../core/plugins/sink.ts';
import { probeSink } from '../../core/plugins/sink-probe.ts';
import { type ImmutabilityGate, startImmutabilityGate } from '../fakes/azure-immutability-gate.ts';
import { AZURITE_ACCOUNT, type LoopbackAzure, startAzurite } from '../helpers/azurite.ts';
import { runRetentionConformance } from './sink-conformance.ts';

let server: LoopbackAzure;
let gate: ImmutabilityGate;
beforeAll(async () => {
  server = await startAzurite();
  await server.createContainer('worm');
  gate = await startImmutabilityGate(server.endpoint);
});
afterAll(async () => {
  await gate.close();
  await server.stop();
});

const locked = (mode: 'Locked' | 'Unlocked' = 'Locked') =>
  server.sink('worm', {
    endpoint: `${gate.endpoint}/${AZURITE_ACCOUNT.accountName}`,
    immutabilityMode: mode,
    immutabilityDays: 30,
    blockSizeBytes: 4 * 1024 * 1024,
    singlePutMaxBytes: 1024 * 1024,
    retry: { attempts: 2, baseDelayMs: 10 },
  });

runRetentionConformance(
  'azure version-level immutability (Locked)',
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
  'a loopback immutability gate in front of azurite',
);

describe('azure immutability specifics', () => {
  it('azurite alone does not enforce immutability: a blob written with a policy is deleted (why the gate exists)', async () => {
    const direct = server.sink('worm', { immutabilityMode: 'Locked', immutabilityDays: 30 });
    await direct.put('data/unprotected', Buffer.from('x'), { retainUntil: new Date(Date.now() + 3_600_000) });
    await direct.delete('data/unprotected');
    expect(await probeSink(direct)).toMatchObject({ ok: false, step: 'lock', reason: 'lock_not_enforced' });
  });

  it('the connection test proves the policy: the store refuses to delete a locked probe', async () => {
    gate.clock.now = undefined;
    expect(await probeSink(locked('Unlocked'))).toMatchObject({ ok: true, locking: { mode: 'Unlocked', days: 30 } });
  });

  it('refuses deleting a locked pack with the appliance’s own account key', async () => {
    gate.clock.now = undefined;
    const sink = locked();
    await sink.put('data/ef/pack', Buffer.from('pack'), { retainUntil: new Date(Date.now() + 86_400_000) });
    await expect(sink.delete('data/ef/pack')).rejects.toBeInstanceOf(ObjectLockedError);
    await expect(sink.extendRetention('data/ef/pack', new Date(Date.now() + 60_000))).rejects.toMatchObject({
      kind: 'permanent',
    });
    expect(gate.refused.filter((r) => r.endsWith('/data/ef/pack'))).toEqual([
      expect.stringMatching(/^DELETE /),
      expect.stringMatching(/^SHORTEN /),
    ]);
  });
});
