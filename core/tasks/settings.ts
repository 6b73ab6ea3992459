// The settings of a backup task, validated with one zod schema for the browser form, the API and
// the services. Form posts arrive as text, so numbers and booleans are read from strings too.
// Each message names what to do, and belongs to its field.
import { z } from 'zod';
import type { RetentionPolicy } from '../../storage/retention.ts';
import { FREQUENCIES, type Frequency } from './entities.ts';

export const FREQUENCY_LABELS: Record<Frequency, string> = {
  daily: 'Daily',
  every_3_days: 'Every 3 days',
  weekly: 'Weekly',
  three_times_daily: '3 times a day',
};

function wholeNumber(min: number, max: number, message: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
}

/** An empty form field means "not set". */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === '' || v === undefined ? null : v), schema.nullable());
}

function flag(message: string) {
  return z.preprocess(
    (v) => {
      if (v === 'on' || v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0' || v === '') return false;
      return v;
    },
    z.boolean({ error: message }),
  );
}

export const retentionSchema: z.ZodType<RetentionPolicy> = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('all') }),
    z.object({
      kind: z.literal('within'),
      amount: wholeNumber(1, 10_000, 'Enter a whole number of days, months or years (1 or more).'),
      unit: z.enum(['days', 'months', 'years'], { error: 'Choose days, months or years.' }),
    }),
    z.object({
      kind: z.literal('last'),
      count: wholeNumber(1, 100_000, 'Enter how many backups to keep (1 or more).'),
    }),
  ],
  { error: 'Choose a retention policy: keep everything, keep for a period, or keep the last backups.' },
) as z.ZodType<RetentionPolicy>;

export const taskSettingsSchema = z.object({
  name: z
    .string({ error: 'Enter a name for the backup task.' })
    .trim()
    .min(1, { error: 'Enter a name for the backup task.' })
    .max(200, { error: 'Use at most 200 characters.' }),
  frequency: z.enum(FREQUENCIES, { error: 'Choose daily, every 3 days, weekly or 3 times a day.' }),
  backupHour: wholeNumber(0, 23, 'Choose an hour from 0 to 23 (UTC).'),
  apiUsageLimitPercent: optional(
    wholeNumber(1, 100, 'Enter a percentage from 1 to 100, or leave it empty for no limit.'),
  ),
  indexForSearch: flag('Choose whether to index the data for search.'),
  autoActivate: flag('Choose whether new entities are activated automatically.'),
  archivedRetentionDays: optional(
    wholeNumber(1, 36_500, 'Enter a number of days from 1 to 36500, or leave it empty to keep archived backups.'),
  ),
  retention: retentionSchema,
});
export type TaskSettings = z.output<typeof taskSettingsSchema>;

/** Share of a service's daily API quota a new task may use, where the service has a quota. */
export const DEFAULT_API_USAGE_LIMIT_PERCENT = 75;

export const DEFAULT_TASK_SETTINGS: Omit<TaskSettings, 'name'> = {
  frequency: 'daily',
  backupHour: 3,
  apiUsageLimitPercent: null,
  indexForSearch: true,
  autoActivate: true,
  archivedRetentionDays: null,
  retention: { kind: 'all' },
};
