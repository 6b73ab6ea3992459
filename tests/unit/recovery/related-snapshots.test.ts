// Which snapshot of another entity goes with a restored one (RestoreRun.related): the one of the
// same backup round where known; else the nearest in time between the restored entity's previous
// and next snapshots, whichever order a round took them in; else the latest at or before it, else
// the first.
import { describe, expect, it } from 'vitest';
import { chooseRelated, type SnapshotRef } from '../../../core/recovery/related.ts';

const at = (minutes: number) => new Date(Date.UTC(2026, 11, 1, 8, minutes)).toISOString();
const snap = (entity: string, minutes: number): SnapshotRef => ({
  id: `${entity}@${minutes}`,
  entity,
  time: at(minutes),
});

describe('the snapshots that go with a restored one', () => {
  // Rounds at 08:00 and 09:00 (minutes 0 and 60): Account first in each, Contact 20 minutes later.
  const snapshots = [snap('Account', 0), snap('Contact', 20), snap('Account', 60), snap('Contact', 80)];

  it('takes an entity backed up later in the same round, not the round before', () => {
    expect(chooseRelated(snapshots, snap('Account', 0)).get('Contact')?.id).toBe('Contact@20');
    expect(chooseRelated(snapshots, snap('Account', 60)).get('Contact')?.id).toBe('Contact@80');
  });

  it('takes an entity backed up earlier in the same round, not a later round', () => {
    expect(chooseRelated(snapshots, snap('Contact', 20)).get('Account')?.id).toBe('Account@0');
    // Contact's next snapshot (80) bounds the window: Account@60 is nearer to 20 than nothing else.
    expect(chooseRelated(snapshots, snap('Contact', 80)).get('Account')?.id).toBe('Account@60');
  });

  it('prefers what was taken before the restored entity was backed up again', () => {
    // Opportunity backed up only after Account's next snapshot: nothing in the window, nothing before: its first.
    const list = [...snapshots, snap('Opportunity', 70)];
    expect(chooseRelated(list, snap('Account', 0)).get('Opportunity')?.id).toBe('Opportunity@70');
    const withEarlier = [...list, snap('Opportunity', 10)];
    expect(chooseRelated(withEarlier, snap('Account', 0)).get('Opportunity')?.id).toBe('Opportunity@10');
    expect(chooseRelated(withEarlier, snap('Account', 60)).get('Opportunity')?.id).toBe('Opportunity@70');
  });

  it('takes the snapshot of the same backup round when the jobs say which, however near another is', () => {
    const restored = { ...snap('Account', 60), round: 'restored' };
    const list = [snap('Account', 0), snap('Contact', 59), restored, { ...snap('Contact', 75), round: 'restored' }];
    expect(chooseRelated(list, restored).get('Contact')?.id).toBe('Contact@75');
    // Without a same-round snapshot of an entity, the nearest in the window again.
    expect(chooseRelated([...list, snap('Case', 58), snap('Case', 65)], restored).get('Case')?.id).toBe('Case@58');
  });

  it('falls back to the latest at or before the restored one when none is in its window', () => {
    const list = [snap('Account', 0), snap('Account', 60), snap('Account', 120), snap('Case', 5)];
    expect(chooseRelated(list, snap('Account', 120)).get('Case')?.id).toBe('Case@5');
    expect(chooseRelated(list, snap('Account', 120)).get('Account')?.id).toBe('Account@120');
  });
});
