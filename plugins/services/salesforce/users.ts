// "Activate inactive users": records owned by an inactive user cannot be written with that owner,
// so the owners a restore needs that are inactive are activated (User.IsActive) before the writes
// and deactivated again after them, as the seed says ("The users will be deactivated after the
// restore process"). Like the automation switch, the deactivation is registered as a recovery
// step before any user is activated, so a failed, cancelled or killed restore cannot leave them
// active (connection.ts's `recover`). Activating a user takes a free licence: Salesforce refuses
// it when none is left (LICENSE_LIMIT_EXCEEDED); such users are reported, the restore goes on and
// their records are written as the integration user (or fail, as Salesforce decides).
import type { Logger, RecoverySteps } from '../../../core/plugins/service.ts';
import type { SalesforceApi } from './session.ts';

/** sObject Collections take 200 records a call. */
const COLLECTION = 200;

export interface UsersRecovery {
  action: 'deactivate-users';
  describe: string;
  ids: string[];
}

interface Context {
  signal: AbortSignal;
  log: Logger;
  step?: (text: string) => void;
}

interface SaveResult {
  id?: string;
  success: boolean;
  errors?: { statusCode?: string; message?: string }[];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The inactive users among the ids (User records; ids not found are ignored). */
export async function inactiveUsers(api: SalesforceApi, ids: readonly string[], ctx: Context): Promise<string[]> {
  const wanted = [...new Set(ids.filter((id) => /^005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/.test(id)))];
  const inactive: string[] = [];
  for (const part of chunks(wanted, COLLECTION)) {
    const soql = `SELECT Id, IsActive FROM User WHERE Id IN (${part.map((id) => `'${id}'`).join(',')})`;
    const result = await api.call(
      'reading the owners',
      async () => (await api.conn.query(soql)) as unknown as { records: { Id: string; IsActive: boolean }[] },
      ctx.signal,
    );
    for (const r of result.records) if (r.IsActive === false) inactive.push(r.Id);
  }
  return inactive;
}

/** Sets IsActive on the users; returns the ids Salesforce refused, with its reason. */
export async function setUsersActive(
  api: SalesforceApi,
  ids: readonly string[],
  active: boolean,
  ctx: Context,
): Promise<{ id: string; reason: string }[]> {
  const refused: { id: string; reason: string }[] = [];
  for (const part of chunks(ids, COLLECTION)) {
    const results = (await api.call(
      active ? 'activating the owners' : 'deactivating the owners',
      () =>
        api.conn.sobject('User').update(
          part.map((Id) => ({ Id, IsActive: active })),
          { allOrNone: false },
        ),
      ctx.signal,
    )) as unknown as SaveResult[];
    results.forEach((r, i) => {
      if (!r.success) {
        const e = r.errors?.[0];
        refused.push({ id: part[i] as string, reason: `${e?.statusCode ?? 'ERROR'}: ${e?.message ?? 'refused'}` });
      }
    });
  }
  return refused;
}

/**
 * Runs `fn` with the inactive ones among `ownerIds` activated, and deactivates exactly those
 * again afterwards, whatever `fn` does. `fn` is told which users were activated (for the report).
 */
export async function withOwnersActive<T>(
  api: SalesforceApi,
  ownerIds: readonly string[],
  recovery: RecoverySteps,
  ctx: Context,
  fn: (activated: readonly string[]) => Promise<T>,
): Promise<T> {
  ctx.step?.('looking for inactive owners');
  const inactive = await inactiveUsers(api, ownerIds, ctx);
  if (inactive.length === 0) return fn([]);
  const payload: UsersRecovery = {
    action: 'deactivate-users',
    describe: `deactivate again ${inactive.length} user(s) activated for the restore`,
    ids: inactive,
  };
  const handle = await recovery.register(payload as unknown as Record<string, unknown>);
  let activated: string[] = [];
  let result: T | undefined;
  let failure: unknown;
  try {
    ctx.step?.(`activating ${inactive.length} inactive owner(s)`);
    const refused = await setUsersActive(api, inactive, true, ctx);
    const refusedIds = new Set(refused.map((r) => r.id));
    activated = inactive.filter((id) => !refusedIds.has(id));
    for (const r of refused) ctx.log.warn({ user: r.id, reason: r.reason }, 'Salesforce owner could not be activated');
    ctx.log.info({ users: activated }, 'Salesforce owners activated for the restore; deactivated again after it');
    result = await fn(activated);
  } catch (err) {
    failure = err;
  }
  try {
    // All of them: an activation whose answer was lost may still have happened.
    const refused = await setUsersActive(api, inactive, false, { ...ctx, signal: AbortSignal.timeout(600_000) });
    if (refused.length)
      throw new Error(`Salesforce refused to deactivate ${refused.map((r) => `${r.id} (${r.reason})`).join(', ')}`);
    await handle.clear();
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'Salesforce owners not deactivated yet: the appliance tries again');
  }
  if (failure !== undefined) throw failure;
  return result as T;
}
