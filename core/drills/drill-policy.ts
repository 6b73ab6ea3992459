// The restore drill policy of accounts: an organization may set how often its tasks' drills run
// (every N days, or 0: none scheduled), overriding the appliance's HOLDFAST_DRILL_INTERVAL_DAYS for
// itself and for the accounts below it that set none — a partner sets it for its customers, a
// customer for itself. The nearest policy up the organization tree applies.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { DrillPolicy } from './entities.ts';

export const MAX_DRILL_INTERVAL_DAYS = 365;

export interface EffectiveDrillPolicy {
  /** Days between drills; 0: no scheduled drills. */
  days: number;
  /** Set by the organization itself, by one above it, or the appliance's setting. */
  source: 'own' | 'inherited' | 'appliance';
  /** The organization whose policy applies (source 'own' or 'inherited'). */
  fromId: string | null;
}

/** Ids from the organization up to the root (nearest first). */
const upTheTree = (org: Pick<IOrganization, 'path'>): string[] => org.path.split('/').filter(Boolean).reverse();

/** Every organization's own policy, by organization id (a small table: one row per setting). */
export async function drillPolicies(em: EntityManager): Promise<Map<string, number>> {
  const rows = await em.find(DrillPolicy, {});
  return new Map(rows.map((r) => [r.organization.id, r.intervalDays]));
}

/** The policy that applies to an organization's tasks. */
export function effectivePolicy(
  policies: Map<string, number>,
  org: Pick<IOrganization, 'id' | 'path'>,
  applianceDays: number,
): EffectiveDrillPolicy {
  for (const id of upTheTree(org)) {
    const days = policies.get(id);
    if (days !== undefined) return { days, source: id === org.id ? 'own' : 'inherited', fromId: id };
  }
  return { days: applianceDays, source: 'appliance', fromId: null };
}

/** A field message for a submitted interval ('' or null: inherit), or null when it is fine. */
export function intervalProblem(value: unknown): string | null {
  if (value === null || value === '' || value === undefined) return null;
  const days = Number(value);
  return Number.isInteger(days) && days >= 0 && days <= MAX_DRILL_INTERVAL_DAYS
    ? null
    : `Enter a whole number of days from 0 to ${MAX_DRILL_INTERVAL_DAYS}, or leave it empty to inherit.`;
}

/** Sets (a number) or clears (null: inherit) the organization's own policy. */
export async function setDrillPolicy(em: EntityManager, org: IOrganization, days: number | null): Promise<void> {
  const row = await em.findOne(DrillPolicy, { organization: org.id });
  if (days === null) {
    if (row) em.remove(row);
  } else if (row) row.intervalDays = days;
  else em.create(DrillPolicy, { organization: org.id, intervalDays: days });
  await em.flush();
}
