// Trial accounts (seed 000 §3, 001 §5.3): an account added as a trial has an end date (14 days by
// default). While it runs it is In progress, in its last 3 days Expiring; once it ends it is
// Expired: its backups are held — the scheduler skips them and a manual start says why — and
// nothing is deleted; the parent's recipients of the "Trial accounts report" type are told.
// Subscribing converts it: billing starts that day and the backups resume.
import { type EntityManager, type FilterQuery, raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { queueNotification } from '../notifications/queue.ts';
import { columnDate, idSubquery } from '../tenancy/account-health.ts';
import { BillingAccount, type IBillingAccount } from './entities.ts';

export const DEFAULT_TRIAL_DAYS = 14;
export const EXPIRING_DAYS = 3;
const DAY_MS = 86_400_000;

export const TRIAL_STATUSES = ['in_progress', 'expiring', 'expired'] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];

export const TRIAL_STATUS_LABELS: Record<TrialStatus, string> = {
  in_progress: 'In progress',
  expiring: 'Expiring',
  expired: 'Expired',
};

/** A trial's status at `now`, or null for an account that is not (or no longer) a trial. */
export function trialStatus(billing: IBillingAccount | null | undefined, now: Date): TrialStatus | null {
  if (!billing?.trialEndsAt || billing.subscribedAt) return null;
  return trialStatusUntil(billing.trialEndsAt, now);
}

/** The status at `now` of a running (not subscribed) trial that ends at `endsAt`. */
function trialStatusUntil(endsAt: Date, now: Date): TrialStatus {
  const left = endsAt.getTime() - now.getTime();
  if (left <= 0) return 'expired';
  return left <= EXPIRING_DAYS * DAY_MS ? 'expiring' : 'in_progress';
}

export function holdReason(endsAt: Date): string {
  const day = endsAt.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  return `The trial ended on ${day}: backups are paused (the data is kept) until the account is subscribed.`;
}

/** Makes the account a trial ending at `endsAt` (default: 14 days from now). */
export async function startTrial(
  em: EntityManager,
  account: IOrganization,
  now: Date,
  endsAt: Date = new Date(now.getTime() + DEFAULT_TRIAL_DAYS * DAY_MS),
): Promise<IBillingAccount> {
  if (endsAt.getTime() <= now.getTime())
    throw new ValidationError({ trialEndsAt: 'The trial must end in the future.' });
  const billing =
    (await em.findOne(BillingAccount, { organization: account.id })) ??
    em.create(BillingAccount, { organization: account.id, updatedAt: now });
  billing.trialEndsAt = endsAt;
  billing.trialExpiredAt = null;
  billing.subscribedAt = null;
  billing.updatedAt = now;
  await em.flush();
  return billing;
}

/**
 * The hourly maintenance's part: trials that ended since the last pass hold their accounts'
 * backups, and each parent gets one Trial accounts report naming them and its trials ending soon.
 */
export async function expireTrials(em: EntityManager, now: Date): Promise<number> {
  const due = await em.find(
    BillingAccount,
    { trialEndsAt: { $lte: now }, subscribedAt: null, trialExpiredAt: null },
    { populate: ['organization'] },
  );
  const byParent = new Map<string, string[]>();
  for (const billing of due) {
    const org = billing.organization as IOrganization;
    billing.trialExpiredAt = now;
    org.backupHold = holdReason(billing.trialEndsAt as Date);
    const parentId = org.parent?.id;
    if (parentId) byParent.set(parentId, [...(byParent.get(parentId) ?? []), org.name]);
  }
  await em.flush();
  for (const [parentId, names] of byParent) {
    const parent = await em.findOneOrFail(Organization, { id: parentId });
    const soon = await expiringUnder(em, parent, now);
    const lines = [
      `${names.length} trial account${names.length === 1 ? '' : 's'} of ${parent.name} ended: backups are paused and the data is kept until the account is subscribed (Accounts › tick the account › Subscribe).`,
      soon.length ? `Ending within ${EXPIRING_DAYS} days: ${soon.join(', ')}.` : '',
    ].filter(Boolean);
    await queueNotification(em, {
      organizationId: parentId,
      type: 'trials',
      eventKey: `trials:${parentId}:${now.toISOString()}`,
      payload: {
        event: 'expired',
        organizationName: parent.name,
        items: names.sort(),
        message: lines.join(' '),
        linkPath: '/portal?trial=expired',
        linkLabel: 'See the expired trials',
      },
      at: now,
    });
  }
  return due.length;
}

async function expiringUnder(em: EntityManager, parent: IOrganization, now: Date): Promise<string[]> {
  const rows = await em.find(
    BillingAccount,
    {
      organization: { parent: parent.id },
      subscribedAt: null,
      trialEndsAt: { $gt: now, $lte: new Date(now.getTime() + EXPIRING_DAYS * DAY_MS) },
    },
    { populate: ['organization'] },
  );
  return rows.map((r) => (r.organization as IOrganization).name).sort();
}

export interface SubscribeOutcome {
  done: string[];
  skipped: { name: string; reason: string }[];
}

/** "Subscribe" on ticked accounts: trials become paying accounts from `now` and their backups resume. */
export async function subscribeAccounts(
  em: EntityManager,
  current: IOrganization,
  accounts: readonly IOrganization[],
  actor: AuditActor,
  now: Date,
): Promise<SubscribeOutcome> {
  const outcome: SubscribeOutcome = { done: [], skipped: [] };
  for (const account of accounts) {
    const billing = await em.findOne(BillingAccount, { organization: account.id });
    if (!billing?.trialEndsAt || billing.subscribedAt) {
      outcome.skipped.push({ name: account.name, reason: 'it is not a trial' });
      continue;
    }
    billing.subscribedAt = now;
    billing.updatedAt = now;
    account.backupHold = null;
    outcome.done.push(account.name);
  }
  await em.flush();
  if (outcome.done.length) {
    await recordAudit(em, {
      organization: current,
      activity: 'Trial subscribed',
      account: outcome.done.join(', ').slice(0, 200),
      description: `Subscribed ${outcome.done.length} trial account${outcome.done.length === 1 ? '' : 's'}: ${outcome.done.join(', ')}; their backups resume.`,
      actor,
    });
  }
  return outcome;
}

/**
 * Trial tiles of the organizations `accounts` selects (the portal passes the ones under it that
 * the caller may reach). In one statement over the running trials, so only they come back,
 * never every account below a portal.
 */
export async function trialCounts(
  em: EntityManager,
  accounts: FilterQuery<IOrganization>,
  now: Date,
): Promise<Record<TrialStatus, number>> {
  const ids = idSubquery(em, accounts);
  const rows = (await em.getConnection().execute(
    // The trials drive (few rows, the trial_ends_at index) and the ids are read only when there
    // is one: `|| ''` keeps SQLite from seeking billing rows by each id of the subtree instead.
    `select b.trial_ends_at as ends from billing_accounts b
     where b.trial_ends_at is not null and b.subscribed_at is null and (b.organization_id || '') in (${ids.sql})`,
    ids.params,
    'all',
  )) as { ends: unknown }[];
  const counts: Record<TrialStatus, number> = { in_progress: 0, expiring: 0, expired: 0 };
  for (const row of rows) {
    const endsAt = columnDate(row.ends);
    if (endsAt) counts[trialStatusUntil(endsAt, now)]++;
  }
  return counts;
}

/**
 * The accounts list's filter: organizations (of the list's own query) in a trial status at `now`,
 * as a subquery of the billing rows — never a list of ids, which the database's limit on bound
 * variables (SQLite: 32,766) would cap.
 */
export function inTrialStatusFilter(em: EntityManager, status: TrialStatus, now: Date): Record<string, never[]> {
  const soon = new Date(now.getTime() + EXPIRING_DAYS * DAY_MS);
  const ends = status === 'expired' ? { $lte: now } : status === 'expiring' ? { $gt: now, $lte: soon } : { $gt: soon };
  const qb = (em as SqlEntityManager)
    .createQueryBuilder(BillingAccount, 't')
    .select('t.organization')
    .where({ trialEndsAt: ends, subscribedAt: null });
  const fragment = raw((alias: string) => `${alias}.id in (${qb.getQuery()})`, qb.getParams());
  return { [fragment as unknown as string]: [] };
}

/** The trial status of each of these accounts that is a trial (the accounts list's badges). */
export async function trialStatusesOf(
  em: EntityManager,
  accountIds: readonly string[],
  now: Date,
): Promise<Map<string, { status: TrialStatus; endsAt: Date }>> {
  const found = new Map<string, { status: TrialStatus; endsAt: Date }>();
  if (accountIds.length === 0) return found;
  // Plain rows: a page asks this on every request, and most accounts are no trial.
  const rows = (await em.getConnection().execute(
    `select organization_id as id, trial_ends_at as ends from billing_accounts
     where organization_id in (${accountIds.map(() => '?').join(', ')})
       and trial_ends_at is not null and subscribed_at is null`,
    [...accountIds],
    'all',
  )) as { id: string; ends: unknown }[];
  for (const row of rows) {
    const endsAt = columnDate(row.ends);
    if (endsAt) found.set(row.id, { status: trialStatusUntil(endsAt, now), endsAt });
  }
  return found;
}
