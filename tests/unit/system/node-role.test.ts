// Which nodes are in multi-node mode, and what each role runs (core/system/node-role.ts).
import { describe, expect, it } from 'vitest';
import { multiNodeMode, runsJobs, servesWeb } from '../../../core/system/node-role.ts';

const PG = 'postgres://holdfast:secret@db:5432/holdfast';

describe('node roles', () => {
  it('is multi-node mode only on PostgreSQL with a split role', () => {
    expect(multiNodeMode({ databaseUrl: PG, nodeRole: 'web' })).toBe(true);
    expect(multiNodeMode({ databaseUrl: PG, nodeRole: 'worker' })).toBe(true);
    expect(multiNodeMode({ databaseUrl: PG, nodeRole: 'both' })).toBe(false);
    expect(multiNodeMode({ databaseUrl: undefined, nodeRole: 'worker' })).toBe(false);
  });

  it('gives the UI to web nodes and the jobs to worker nodes, both to a node of both', () => {
    expect([servesWeb('web'), runsJobs('web')]).toEqual([true, false]);
    expect([servesWeb('worker'), runsJobs('worker')]).toEqual([false, true]);
    expect([servesWeb('both'), runsJobs('both')]).toEqual([true, true]);
  });
});
