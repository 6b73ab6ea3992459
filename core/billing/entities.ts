// MSP billing (issue 24): the price plans an organization (partner, distributor, operator) sells
// to the accounts directly under it, each account's billing settings (its plan or its default
// for the accounts under it, tax rate, billing contact, trial), the invoices it issues and their
// lines. Money is integer cents throughout (docs/BILLING.md, the rounding rule).
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

export const PLAN_PERIODS = ['monthly', 'annual'] as const;
export type PlanPeriod = (typeof PLAN_PERIODS)[number];

export const MEASURES = ['max', 'average'] as const;
export type Measure = (typeof MEASURES)[number];

/** One price band: units above the previous band's bound and up to `upTo` (null: no bound) cost `unitCents` each. */
export interface PriceTier {
  upTo: number | null;
  unitCents: number;
}

/** One billed quantity of a plan: which usage figure (core/billing/meters.ts), how it is measured over the month, its bands. */
export interface PlanMeter {
  meter: string;
  measure: Measure;
  tiers: PriceTier[];
}

export const PricePlan = defineEntity({
  name: 'PricePlan',
  tableName: 'price_plans',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** Who sells it: the plan prices accounts directly under this organization. */
    issuer: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    name: p.string().length(200),
    /** ISO 4217 code. */
    currency: p.string().length(3),
    period: p.enum(PLAN_PERIODS),
    meters: p.json<PlanMeter[]>(),
    /** The least a period's invoice comes to before tax (a top-up line makes up the difference). */
    minimumCents: p.integer().default(0),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
  uniques: [{ properties: ['issuer', 'name'] }],
});
export type IPricePlan = InferEntity<typeof PricePlan>;

export const BillingAccount = defineEntity({
  name: 'BillingAccount',
  tableName: 'billing_accounts',
  properties: {
    organization: () => p.oneToOne(Organization).primary().owner().deleteRule('cascade'),
    /** The plan this account is invoiced on (issued by its parent); null: the parent's default. */
    plan: () => p.manyToOne(PricePlan).nullable().deleteRule('set null'),
    /** The plan of the accounts directly under this one that have none of their own. */
    defaultPlan: () => p.manyToOne(PricePlan).nullable().deleteRule('set null'),
    /** Tax in basis points (2000 = 20 %). */
    taxRateBasisPoints: p.integer().default(0),
    /** Where invoices are mailed; null: the account's contact email. */
    billingEmail: p.string().length(320).nullable(),
    paymentTermsDays: p.integer().default(14),
    /** Payment details (set by the organization itself): whom its invoices are addressed to. Never card data. */
    billingName: p.string().length(200).nullable(),
    billingAddress: p.string().length(1000).nullable(),
    taxId: p.string().length(64).nullable(),
    /** Set while (or since) the account was a trial: when the trial ends. */
    trialEndsAt: p.datetime().nullable().index(),
    /** When the ended trial paused the account's backups (the trial report was queued). */
    trialExpiredAt: p.datetime().nullable(),
    /** When a trial was converted: billing starts here. */
    subscribedAt: p.datetime().nullable(),
    updatedAt: p.datetime(),
  },
});
export type IBillingAccount = InferEntity<typeof BillingAccount>;

/** One side of an invoice: name, postal address, e-mail and tax id as printed. */
export interface InvoiceParty {
  name: string;
  address?: string | null;
  email?: string | null;
  taxId?: string | null;
}

export interface InvoiceParties {
  issuer: InvoiceParty;
  account: InvoiceParty;
}

/** draft: computed, may be recomputed; issued: numbered and mailed; paid. Overdue is issued past its due date (read, not stored). */
export const INVOICE_STATUSES = ['draft', 'issued', 'paid'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

export const Invoice = defineEntity({
  name: 'Invoice',
  tableName: 'invoices',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    issuer: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    account: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    /** The month invoiced, YYYY-MM. */
    period: p.string().length(7),
    planName: p.string().length(200),
    currency: p.string().length(3),
    status: p.enum(INVOICE_STATUSES).default('draft'),
    /** The issuer's running number, given when issued. */
    sequence: p.integer().nullable(),
    number: p.string().length(40).nullable(),
    subtotalCents: p.integer(),
    taxRateBasisPoints: p.integer(),
    taxCents: p.integer(),
    totalCents: p.integer(),
    /** The days of the month the account was billable, of the month's days. */
    billableDays: p.integer(),
    monthDays: p.integer(),
    createdAt: p.datetime(),
    issuedAt: p.datetime().nullable(),
    dueAt: p.datetime().nullable(),
    paidAt: p.datetime().nullable(),
    /** Who marked it paid and how (a user, an API key, an integration), free text. */
    paidBy: p.string().length(200).nullable(),
    mailedTo: p.string().length(320).nullable(),
    /** Issuer and "Bill to" as they were when issued (an issued invoice never changes); null: a draft, read live. */
    parties: p.json<InvoiceParties>().nullable(),
  },
  uniques: [{ properties: ['account', 'period'] }, { properties: ['issuer', 'sequence'] }],
});
export type IInvoice = InferEntity<typeof Invoice>;

export const InvoiceLine = defineEntity({
  name: 'InvoiceLine',
  tableName: 'invoice_lines',
  properties: {
    id: p.integer().primary().autoincrement(),
    invoice: () => p.manyToOne(Invoice).index().deleteRule('cascade'),
    position: p.integer(),
    /** The meter priced, or `minimum` for the minimum charge's top-up. */
    meter: p.string().length(200),
    description: p.string().length(500),
    /** The billed quantity, exact to 4 decimals (pro-rated), as text so it reads back unchanged. */
    quantity: p.string().length(40),
    amountCents: p.integer(),
  },
});
export type IInvoiceLine = InferEntity<typeof InvoiceLine>;
