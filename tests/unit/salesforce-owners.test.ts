// "Activate inactive users" (plugins/services/salesforce/users.ts) over a recorded API: the
// Salesforce stand-in has no User records to write yet (the record writes come with the record
// restore), so the calls are checked in order: the deactivation registered as a recovery step
// before any user is activated, only the inactive owners activated, all of them deactivated
// again after the writes whatever happens, and the step left pending when that fails.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logging.ts';
import type { SalesforceApi } from '../../plugins/services/salesforce/session.ts';
import { withOwnersActive } from '../../plugins/services/salesforce/users.ts';

const ACTIVE = '005000000000001AAA';
const INACTIVE_A = '005000000000002AAA';
const INACTIVE_B = '005000000000003AAA';

function recorded(options: { refuse?: string[]; failDeactivate?: boolean } = {}) {
  const events: string[] = [];
  const active = new Map([
    [ACTIVE, true],
    [INACTIVE_A, false],
    [INACTIVE_B, false],
  ]);
  const api = {
    call: (_what: string, op: () => Promise<unknown>) => op(),
    conn: {
      query: async (soql: string) => ({
        records: [...soql.matchAll(/'(005\w+)'/g)]
          .map((m) => m[1] as string)
          .filter((id) => active.has(id))
          .map((Id) => ({ Id, IsActive: active.get(Id) })),
      }),
      sobject: () => ({
        update: async (records: { Id: string; IsActive: boolean }[]) => {
          events.push(`${records[0]?.IsActive ? 'activate' : 'deactivate'} ${records.map((r) => r.Id).join(' ')}`);
          if (!records[0]?.IsActive && options.failDeactivate) throw new Error('UNABLE_TO_LOCK_ROW');
          return records.map((r) => {
            if (options.refuse?.includes(r.Id)) {
              return {
                id: r.Id,
                success: false,
                errors: [{ statusCode: 'LICENSE_LIMIT_EXCEEDED', message: 'No licence' }],
              };
            }
            active.set(r.Id, r.IsActive);
            return { id: r.Id, success: true };
          });
        },
      }),
    },
  } as unknown as SalesforceApi;
  const recovery = {
    register: async (payload: Record<string, unknown>) => {
      events.push(`register ${(payload.ids as string[]).join(' ')}`);
      return {
        clear: async () => {
          events.push('clear');
        },
      };
    },
  };
  return { api, recovery, events, active };
}

const ctx = { signal: new AbortController().signal, log: createLogger('silent') };
const OWNERS = [ACTIVE, INACTIVE_A, INACTIVE_B, 'not-a-user-id'];

describe('activating inactive owners for a restore', () => {
  it('registers their deactivation first, activates only the inactive ones, deactivates them after', async () => {
    const r = recorded();
    const result = await withOwnersActive(r.api, OWNERS, r.recovery, ctx, async (activated) => {
      r.events.push(`write (${activated.length} activated)`);
      expect(r.active.get(INACTIVE_A)).toBe(true);
      return 'restored';
    });
    expect(result).toBe('restored');
    expect(r.events).toEqual([
      `register ${INACTIVE_A} ${INACTIVE_B}`,
      `activate ${INACTIVE_A} ${INACTIVE_B}`,
      'write (2 activated)',
      `deactivate ${INACTIVE_A} ${INACTIVE_B}`,
      'clear',
    ]);
    expect([...r.active.values()]).toEqual([true, false, false]);
  });

  it('deactivates them again when the writes fail, and the failure stands', async () => {
    const r = recorded();
    await expect(
      withOwnersActive(r.api, OWNERS, r.recovery, ctx, async () => {
        throw new Error('the restore failed');
      }),
    ).rejects.toThrow('the restore failed');
    expect(r.events.slice(-2)).toEqual([`deactivate ${INACTIVE_A} ${INACTIVE_B}`, 'clear']);
    expect(r.active.get(INACTIVE_A)).toBe(false);
  });

  it('goes on without a user Salesforce refuses to activate (no free licence)', async () => {
    const r = recorded({ refuse: [INACTIVE_B] });
    let seen: readonly string[] = [];
    await withOwnersActive(r.api, OWNERS, r.recovery, ctx, async (activated) => {
      seen = activated;
    });
    expect(seen).toEqual([INACTIVE_A]);
    expect(r.active.get(INACTIVE_B)).toBe(false);
  });

  it('leaves the step registered when deactivating fails, for the kernel to run again', async () => {
    const r = recorded({ failDeactivate: true });
    expect(await withOwnersActive(r.api, OWNERS, r.recovery, ctx, async () => 'restored')).toBe('restored');
    expect(r.events.at(-1)).toBe(`deactivate ${INACTIVE_A} ${INACTIVE_B}`);
    expect(r.events).not.toContain('clear');
  });

  it('registers nothing when every owner is active', async () => {
    const r = recorded();
    await withOwnersActive(r.api, [ACTIVE], r.recovery, ctx, async () => undefined);
    expect(r.events).toEqual([]);
  });
});
