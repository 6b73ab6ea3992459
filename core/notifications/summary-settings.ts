// The summary report's settings of an organization: format, CSV attached or linked, frequency
// and hour (in a time zone kept with the settings: organizations have none of their own), only
// when a backup failed, and above customers one file or one per customer. Validated here, so the
// page and the API give the same field messages.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { fieldErrorsFrom, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { isKnownTimeZone } from '../identity/time-zone.ts';
import {
  type ISummaryReportSettings,
  REPORT_DELIVERIES,
  REPORT_FORMATS,
  REPORT_FREQUENCIES,
  REPORT_SPLITS,
  type ReportDelivery,
  type ReportFormat,
  type ReportFrequency,
  type ReportSplit,
  SummaryReportSettings,
} from './summary-entities.ts';
import { duePeriod } from './summary-schedule.ts';

export interface ReportSettings {
  enabled: boolean;
  format: ReportFormat;
  delivery: ReportDelivery;
  frequency: ReportFrequency;
  hour: number;
  timeZone: string;
  onlyWhenFailed: boolean;
  split: ReportSplit;
}

export const DEFAULT_REPORT_SETTINGS: ReportSettings = {
  enabled: false,
  format: 'overview',
  delivery: 'attachment',
  frequency: 'daily',
  hour: 7,
  timeZone: 'UTC',
  onlyWhenFailed: false,
  split: 'consolidated',
};

export const reportSettingsSchema = z.object({
  enabled: z.boolean({ error: 'Choose whether the report is sent.' }),
  format: z.enum(REPORT_FORMATS, { error: 'Choose "Backup tasks overview" or "Backup failure details".' }),
  delivery: z.enum(REPORT_DELIVERIES, { error: 'Choose a CSV attachment or a download link.' }),
  frequency: z.enum(REPORT_FREQUENCIES, { error: 'Choose daily, weekly or monthly.' }),
  hour: z
    .number({ error: 'Choose an hour from 0 to 23.' })
    .int({ error: 'Choose an hour from 0 to 23.' })
    .min(0, { error: 'Choose an hour from 0 to 23.' })
    .max(23, { error: 'Choose an hour from 0 to 23.' }),
  timeZone: z.string({ error: 'Choose a time zone from the list.' }).refine(isKnownTimeZone, {
    error: 'Choose a time zone from the list.',
  }),
  onlyWhenFailed: z.boolean({ error: 'Choose whether to send only when a backup failed.' }),
  split: z.enum(REPORT_SPLITS, { error: 'Choose one file or one file per customer.' }),
});

function view(row: ISummaryReportSettings | null): ReportSettings {
  if (!row) return { ...DEFAULT_REPORT_SETTINGS };
  return {
    enabled: row.enabled,
    format: row.format,
    delivery: row.delivery,
    frequency: row.frequency,
    hour: row.hour,
    timeZone: row.timeZone,
    onlyWhenFailed: row.onlyWhenFailed,
    split: row.split,
  };
}

/** The organization's settings, or the defaults (not sent) when none are saved. */
export async function reportSettingsOf(em: EntityManager, org: IOrganization): Promise<ReportSettings> {
  return view(await em.findOne(SummaryReportSettings, { organization: org.id }));
}

/** Validates and saves; a bad field throws a ValidationError naming it and saves nothing. */
export async function saveReportSettings(
  em: EntityManager,
  org: IOrganization,
  input: unknown,
  now: Date,
): Promise<ReportSettings> {
  const parsed = reportSettingsSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const data = parsed.data;
  if (org.kind === 'customer' && data.split !== 'consolidated') {
    throw new ValidationError({ split: 'A customer account has one report: choose one file.' });
  }
  const row = await em.findOne(SummaryReportSettings, { organization: org.id });
  const schedule = (r: Pick<ISummaryReportSettings, 'frequency' | 'hour' | 'timeZone'>) =>
    `${r.frequency}/${r.hour}/${r.timeZone}`;
  // A new schedule's current period counts as decided: the first report goes out at the next
  // set hour, not the moment the form is saved.
  const current = duePeriod(data.frequency, data.hour, data.timeZone, now);
  if (row) {
    const changed = schedule(row) !== schedule(data);
    Object.assign(row, data, { updatedAt: now });
    if (changed) row.lastPeriod = current;
  } else {
    em.create(SummaryReportSettings, { organization: org.id, ...data, lastPeriod: current, updatedAt: now } as never);
  }
  await em.flush();
  return view(await em.findOne(SummaryReportSettings, { organization: org.id }, { refresh: true }));
}
