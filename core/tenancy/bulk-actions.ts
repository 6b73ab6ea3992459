// The accounts list's bulk actions on the ticked rows (issue 20): pause or resume the backups of
// every task of the accounts (and of the accounts under a ticked partner or distributor), and
// give the accounts a storage location. A ticked id outside the portal is a 404 for the whole
// request; a customer that removed its partner's access is skipped and said so; an account whose
// backups already live somewhere keeps its location and is said so. Each change leaves the audit
// entries of the services it calls, and the portal gets one entry for the whole action.
import type { EntityManager } from '@mikro-orm/core';
import { canReach, holdsInPortal, type Principal, reachableFilter } from '../access/principal.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { AppError, NotFoundError, ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { setOrganizationLocation } from '../storage-locations/assignment.ts';
import { BackupTask, type TaskStatus } from '../tasks/entities.ts';
import { setTaskStatus } from '../tasks/tasks-service.ts';
import { isWithin } from './organizations.ts';
import { ACCESS_REMOVED_LABEL } from './partner-access.ts';

/** At most this many accounts per bulk action (a page of the list is 25). */
export const BULK_LIMIT = 500;

export interface BulkOutcome {
  /** Accounts the action applied to. */
  done: string[];
  /** Accounts left as they were, with why. */
  skipped: { name: string; reason: string }[];
  /** Backup tasks paused or resumed (pause and resume only). */
  tasks: number;
}

/** The ticked accounts, strictly under `current` and in the principal's portal; otherwise a 404. */
export async function tickedAccounts(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  ids: readonly string[],
): Promise<IOrganization[]> {
  const unique = [...new Set(ids.map((id) => id.trim()).filter(Boolean))];
  if (unique.length === 0) throw new ValidationError({ account: 'Tick at least one account first.' });
  if (unique.length > BULK_LIMIT) {
    throw new ValidationError({ account: `Tick at most ${BULK_LIMIT} accounts at a time.` });
  }
  const found = await em.find(Organization, { id: { $in: unique.filter((id) => id.length <= 36) } });
  const usable = found.filter((o) => o.id !== current.id && isWithin(o, current) && holdsInPortal(principal, o));
  if (usable.length !== unique.length) throw new NotFoundError('There is no such account.');
  return usable.sort((a, b) => a.name.localeCompare(b.name));
}

function withdrawn(principal: Principal, org: IOrganization): boolean {
  return !canReach(principal, org);
}

export async function setBackupsOfAccounts(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  accounts: IOrganization[],
  status: TaskStatus,
  actor: AuditActor,
): Promise<BulkOutcome> {
  const outcome: BulkOutcome = { done: [], skipped: [], tasks: 0 };
  for (const account of accounts) {
    if (withdrawn(principal, account)) {
      outcome.skipped.push({ name: account.name, reason: ACCESS_REMOVED_LABEL });
      continue;
    }
    // The account's own tasks and those of the accounts under it that the principal reaches.
    const tasks = await em.find(
      BackupTask,
      { deletedAt: null, organization: reachableFilter(principal, account) },
      { populate: ['organization'], orderBy: { id: 'asc' } },
    );
    let changed = 0;
    for (const task of tasks) {
      if (task.status === status) continue;
      await setTaskStatus(em, task, status, actor);
      changed++;
    }
    outcome.tasks += changed;
    outcome.done.push(account.name);
  }
  if (outcome.tasks > 0) {
    await recordAudit(em, {
      organization: current,
      activity: 'Backup task changed',
      account: outcome.done.join(', ').slice(0, 200),
      description: `${status === 'paused' ? 'Paused' : 'Resumed'} ${outcome.tasks} backup task${outcome.tasks === 1 ? '' : 's'} of ${outcome.done.length} account${outcome.done.length === 1 ? '' : 's'}: ${outcome.done.join(', ')}`,
      actor,
    });
  }
  return outcome;
}

export async function assignStorageLocation(
  em: EntityManager,
  principal: Principal,
  accounts: IOrganization[],
  locationId: string,
  actor: AuditActor,
): Promise<BulkOutcome> {
  if (!locationId) throw new ValidationError({ location: 'Choose a storage location.' });
  const outcome: BulkOutcome = { done: [], skipped: [], tasks: 0 };
  for (const account of accounts) {
    if (withdrawn(principal, account)) {
      outcome.skipped.push({ name: account.name, reason: ACCESS_REMOVED_LABEL });
      continue;
    }
    try {
      await setOrganizationLocation(em, account, locationId, actor);
      outcome.done.push(account.name);
    } catch (err) {
      // A location the account cannot use is the request's fault; one fixed by backups is the account's.
      if (err instanceof ValidationError) throw new ValidationError({ location: err.fields?.location ?? err.message });
      if (!(err instanceof AppError) || err.status !== 409) throw err;
      outcome.skipped.push({ name: account.name, reason: err.message });
    }
  }
  return outcome;
}

/** One sentence for the flash banner. */
export function bulkSentence(verb: string, outcome: BulkOutcome, withTasks: boolean): string {
  const n = outcome.done.length;
  const parts = [
    n === 0
      ? 'No account changed.'
      : `${verb} ${n} account${n === 1 ? '' : 's'}${withTasks ? ` (${outcome.tasks} backup task${outcome.tasks === 1 ? '' : 's'} changed)` : ''}.`,
  ];
  for (const s of outcome.skipped) parts.push(`${s.name} left as it was: ${s.reason}.`.replace(/\.\.$/, '.'));
  return parts.join(' ');
}
