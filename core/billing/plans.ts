// Price plans: validated input (a clear message per field), saved per issuer, and which plan an
// account is invoiced on — its own, or its parent's default for the accounts under it. A plan
// always belongs to the account's parent: the parent is who invoices it.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import {
  BillingAccount,
  type IBillingAccount,
  type IPricePlan,
  MEASURES,
  PLAN_PERIODS,
  type PlanMeter,
  PricePlan,
} from './entities.ts';
import { isMeter } from './meters.ts';

const tierSchema = z.object({
  upTo: z.number().int().positive().nullable(),
  unitCents: z.number().int().min(0).max(100_000_000),
});

const meterSchema = z.object({
  meter: z.string().refine(isMeter, 'Unknown meter.'),
  measure: z.enum(MEASURES),
  tiers: z
    .array(tierSchema)
    .min(1, 'Give at least one price band.')
    .max(10)
    .refine(
      (tiers) => tiers.every((t, i) => (i === tiers.length - 1 ? t.upTo === null : t.upTo !== null)),
      'Every band but the last needs an upper bound; the last has none.',
    )
    .refine(
      (tiers) => tiers.every((t, i) => i === 0 || (t.upTo ?? Infinity) > (tiers[i - 1]?.upTo ?? 0)),
      'Band bounds must increase.',
    ),
});

export const planInputSchema = z.object({
  name: z.string().trim().min(1, 'Enter a name.').max(200, 'At most 200 characters.'),
  currency: z
    .string()
    .trim()
    .transform((s) => s.toUpperCase())
    .pipe(z.string().regex(/^[A-Z]{3}$/, 'A three-letter currency code, such as EUR or USD.')),
  period: z.enum(PLAN_PERIODS, { error: 'Monthly or annual.' }),
  meters: z.array(meterSchema).min(1, 'Price at least one meter.').max(10),
  minimumCents: z.number().int().min(0).max(1_000_000_000).default(0),
});
export type PlanInput = z.input<typeof planInputSchema>;

/** The first message per field of a plan's input ({} when it is valid). */
export function planFieldErrors(input: PlanInput): Record<string, string> {
  const parsed = planInputSchema.safeParse(input);
  const fields: Record<string, string> = {};
  for (const issue of parsed.success ? [] : parsed.error.issues)
    fields[String(issue.path[0] ?? 'plan')] ??= issue.message;
  return fields;
}

function parsePlan(input: PlanInput) {
  const parsed = planInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(planFieldErrors(input));
  return parsed.data;
}

export async function createPlan(
  em: EntityManager,
  issuer: IOrganization,
  input: PlanInput,
  now: Date,
): Promise<IPricePlan> {
  const data = parsePlan(input);
  if (await em.count(PricePlan, { issuer, name: data.name })) {
    throw new ValidationError({ name: 'A plan of that name exists.' });
  }
  const plan = em.create(PricePlan, {
    issuer,
    ...data,
    meters: data.meters as PlanMeter[],
    createdAt: now,
    updatedAt: now,
  });
  await em.flush();
  return plan;
}

export async function updatePlan(em: EntityManager, plan: IPricePlan, input: PlanInput, now: Date): Promise<void> {
  const data = parsePlan(input);
  if (await em.count(PricePlan, { issuer: plan.issuer, name: data.name, id: { $ne: plan.id } })) {
    throw new ValidationError({ name: 'A plan of that name exists.' });
  }
  Object.assign(plan, { ...data, meters: data.meters as PlanMeter[], updatedAt: now });
  await em.flush();
}

export async function listPlans(em: EntityManager, issuer: IOrganization): Promise<IPricePlan[]> {
  return em.find(PricePlan, { issuer }, { orderBy: { name: 'asc', id: 'asc' } });
}

/** A plan of this issuer, or a 404 (another issuer's plan included). */
export async function findPlan(em: EntityManager, issuer: IOrganization, id: number | string): Promise<IPricePlan> {
  const plan = Number.isSafeInteger(Number(id)) ? await em.findOne(PricePlan, { id: Number(id), issuer }) : null;
  if (!plan) throw new NotFoundError('There is no such plan.');
  return plan;
}

export async function billingOf(em: EntityManager, org: IOrganization, now: Date) {
  return (
    (await em.findOne(BillingAccount, { organization: org.id }, { populate: ['plan', 'defaultPlan'] })) ??
    em.create(BillingAccount, { organization: org.id, updatedAt: now })
  );
}

/** The plan an account is invoiced on: its own, else its parent's default; always one of its parent's. */
export async function effectivePlan(em: EntityManager, account: IOrganization): Promise<IPricePlan | null> {
  const parentId = account.parent?.id;
  if (!parentId) return null;
  const own = await em.findOne(BillingAccount, { organization: account.id }, { populate: ['plan'] });
  if (own?.plan && own.plan.issuer.id === parentId) return own.plan as IPricePlan;
  const parent = await em.findOne(BillingAccount, { organization: parentId }, { populate: ['defaultPlan'] });
  return planOf(parentId, own, parent);
}

/**
 * `effectivePlan` of a page of accounts: their and their parents' billing rows in one query
 * (the Amount column asked two per row). Accounts on no plan are left out.
 */
export async function effectivePlans(
  em: EntityManager,
  accounts: readonly IOrganization[],
): Promise<Map<string, IPricePlan>> {
  const ids = new Set<string>();
  for (const account of accounts) {
    if (!account.parent) continue;
    ids.add(account.id);
    ids.add(account.parent.id);
  }
  const plans = new Map<string, IPricePlan>();
  if (ids.size === 0) return plans;
  const rows = await em.find(
    BillingAccount,
    { organization: { $in: [...ids] } },
    { populate: ['plan', 'defaultPlan'] },
  );
  const byOrganization = new Map(rows.map((row) => [row.organization.id, row]));
  for (const account of accounts) {
    const parentId = account.parent?.id;
    if (!parentId) continue;
    const plan = planOf(parentId, byOrganization.get(account.id), byOrganization.get(parentId));
    if (plan) plans.set(account.id, plan);
  }
  return plans;
}

/** The account's own plan if its parent issued it, else the parent's default. */
function planOf(
  parentId: string,
  own: IBillingAccount | null | undefined,
  parent: IBillingAccount | null | undefined,
): IPricePlan | null {
  if (own?.plan && own.plan.issuer.id === parentId) return own.plan as IPricePlan;
  const fallback = parent?.defaultPlan as IPricePlan | null | undefined;
  return fallback && fallback.issuer.id === parentId ? fallback : null;
}
