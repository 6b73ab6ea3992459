// The summary report: its settings per organization (what, how and when it is sent) and each
// report made (its CSV, served by a tokened, expiring link or attached to the mail).
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

export const REPORT_FORMATS = ['overview', 'failures'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const REPORT_DELIVERIES = ['attachment', 'link'] as const;
export type ReportDelivery = (typeof REPORT_DELIVERIES)[number];
export const REPORT_FREQUENCIES = ['daily', 'weekly', 'monthly'] as const;
export type ReportFrequency = (typeof REPORT_FREQUENCIES)[number];
/** At a partner or distributor: one file for all customers, or one per customer. */
export const REPORT_SPLITS = ['consolidated', 'per_customer'] as const;
export type ReportSplit = (typeof REPORT_SPLITS)[number];

export const SummaryReportSettings = defineEntity({
  name: 'SummaryReportSettings',
  tableName: 'summary_report_settings',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade').unique(),
    enabled: p.boolean().default(true),
    format: p.enum(REPORT_FORMATS).default('overview'),
    delivery: p.enum(REPORT_DELIVERIES).default('attachment'),
    frequency: p.enum(REPORT_FREQUENCIES).default('daily'),
    /** The hour (0–23) in `timeZone` it is sent at. */
    hour: p.integer().default(7),
    /** An IANA zone: organizations have none of their own, so the report keeps the one chosen here. */
    timeZone: p.string().length(64).default('UTC'),
    onlyWhenFailed: p.boolean().default(false),
    split: p.enum(REPORT_SPLITS).default('consolidated'),
    /** The last period decided (sent or skipped): a period is looked at once. */
    lastPeriod: p.string().length(20).nullable(),
    updatedAt: p.datetime(),
  },
});
export type ISummaryReportSettings = InferEntity<typeof SummaryReportSettings>;

/** One report made: the CSV, and the hash of the token its download link carries. */
export const SummaryReport = defineEntity({
  name: 'SummaryReport',
  tableName: 'summary_reports',
  properties: {
    id: p.string().length(36).primary(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    period: p.string().length(20),
    fileName: p.string().length(200),
    csv: p.text().lazy(),
    tokenHash: p.string().length(64).hidden(),
    createdAt: p.datetime(),
    expiresAt: p.datetime().index(),
  },
});
export type ISummaryReport = InferEntity<typeof SummaryReport>;

/** One entity's line of a summary report, as the mail lists it. */
export interface SummaryLine {
  organization: string;
  task: string;
  entity: string;
  status: string;
  /** ISO date-time of the last backup, or null. */
  lastBackup: string | null;
  items: number;
  bytes: number;
  reason: string | null;
  /** The task's latest restore drill in words ("Last verified restorable: …"); absent: none yet. */
  drill?: string | null;
}

/** What a summary-report notification carries (NotificationPayload.summary). */
export interface SummaryPayload {
  period: string;
  format: ReportFormat;
  delivery: ReportDelivery;
  reportId: string;
  fileName: string;
  /** The customer this file is about (one file per customer), else null. */
  scope: string | null;
  totals: { tasks: number; entities: number; failed: number; items: number; bytes: number };
  /** The first lines (the mail stays readable); the CSV has them all. */
  lines: SummaryLine[];
  omitted: number;
}
