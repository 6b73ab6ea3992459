// An account's billing settings, set by the organization that invoices it (its parent): its plan
// (or the parent's default), tax rate, billing contact, payment terms, and a trial's end date;
// and the parent's default plan for the accounts under it. Each save is audited.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { IBillingAccount } from './entities.ts';
import { billingOf, findPlan } from './plans.ts';

const settingsSchema = z.object({
  planId: z.string().trim().max(20),
  taxRate: z
    .string()
    .trim()
    .regex(/^(\d{1,2}(?:[.,]\d{1,2})?|100)?$/, 'A percentage from 0 to 100, such as 20 or 7.5.'),
  billingEmail: z.union([z.literal(''), z.email('Not an email address.').max(320)]),
  paymentTermsDays: z
    .string()
    .trim()
    .regex(/^\d{1,3}$/, 'Days from 0 to 365.')
    .refine((v) => Number(v) <= 365, 'Days from 0 to 365.'),
  trialEndsOn: z.union([z.literal(''), z.iso.date('A date such as 2026-12-31.')]),
});
export type AccountBillingInput = z.input<typeof settingsSchema>;

export function basisPoints(percent: string): number {
  if (!percent) return 0;
  const [whole, part = ''] = percent.replace(',', '.').split('.');
  return Number(whole) * 100 + Number(part.padEnd(2, '0'));
}

export async function saveAccountBilling(
  em: EntityManager,
  issuer: IOrganization,
  account: IOrganization,
  input: AccountBillingInput,
  actor: AuditActor,
  now: Date,
): Promise<IBillingAccount> {
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) {
    const fields: Record<string, string> = {};
    for (const issue of parsed.error.issues) fields[String(issue.path[0])] ??= issue.message;
    throw new ValidationError(fields);
  }
  const data = parsed.data;
  const plan = data.planId ? await findPlan(em, issuer, data.planId).catch(() => null) : null;
  if (data.planId && !plan) throw new ValidationError({ planId: 'Choose one of your plans.' });
  const billing = await billingOf(em, account, now);
  const trialEndsAt = data.trialEndsOn ? new Date(`${data.trialEndsOn}T00:00:00Z`) : null;
  if (trialEndsAt && !billing.trialEndsAt && trialEndsAt.getTime() <= now.getTime()) {
    throw new ValidationError({ trialEndsOn: 'A new trial must end in the future.' });
  }
  billing.plan = plan;
  billing.taxRateBasisPoints = basisPoints(data.taxRate);
  billing.billingEmail = data.billingEmail || null;
  billing.paymentTermsDays = Number(data.paymentTermsDays);
  if (!billing.subscribedAt) {
    // A trial's end moved: a later end lifts the hold of one that had ended.
    if (trialEndsAt && trialEndsAt.getTime() > now.getTime() && billing.trialExpiredAt) {
      billing.trialExpiredAt = null;
      account.backupHold = null;
    }
    billing.trialEndsAt = trialEndsAt;
  }
  billing.updatedAt = now;
  await em.flush();
  await recordAudit(em, {
    organization: issuer,
    activity: 'Billing changed',
    account: account.name,
    description: `Billing of ${account.name}: plan ${plan ? `"${plan.name}"` : `${issuer.name}'s default`}, tax ${data.taxRate || '0'} %, terms ${billing.paymentTermsDays} days${billing.trialEndsAt && !billing.subscribedAt ? `, trial ends ${billing.trialEndsAt.toISOString().slice(0, 10)}` : ''}.`,
    actor,
  });
  return billing;
}

export async function setDefaultPlan(
  em: EntityManager,
  issuer: IOrganization,
  planId: string,
  actor: AuditActor,
  now: Date,
): Promise<void> {
  const plan = planId ? await findPlan(em, issuer, planId) : null;
  const billing = await billingOf(em, issuer, now);
  billing.defaultPlan = plan;
  billing.updatedAt = now;
  await em.flush();
  await recordAudit(em, {
    organization: issuer,
    activity: 'Billing changed',
    description: plan
      ? `Default plan of the accounts under ${issuer.name}: "${plan.name}".`
      : `No default plan for the accounts under ${issuer.name}.`,
    actor,
  });
}
