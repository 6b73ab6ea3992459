// The task settings form: what a browser posts (flat strings, checkboxes absent when not ticked,
// the retention policy as radio + inputs) turned into what core/tasks/settings.ts parses, and a
// task's settings turned back into form values. Shared by "Add backup task" and the settings page.
import type { Frequency, IBackupTask } from '../tasks/entities.ts';
import { FREQUENCY_LABELS, type TaskSettings } from '../tasks/settings.ts';

export type SettingsFormValues = Record<string, string>;

/** The settings part of a posted form, as input for taskSettingsSchema. */
export function settingsFromForm(form: Record<string, string>): Partial<Record<keyof TaskSettings, unknown>> {
  const kind = form.retentionKind ?? 'all';
  const retention =
    kind === 'within'
      ? { kind, amount: form.retentionAmount ?? '', unit: form.retentionUnit ?? '' }
      : kind === 'last'
        ? { kind, count: form.retentionCount ?? '' }
        : { kind };
  return {
    name: form.name ?? '',
    frequency: form.frequency ?? '',
    backupHour: form.backupHour ?? '',
    ...(form.apiUsageLimitPercent === undefined ? {} : { apiUsageLimitPercent: form.apiUsageLimitPercent }),
    indexForSearch: form.indexForSearch === 'on',
    autoActivate: form.autoActivate === 'on',
    // Unticked: archived backups are kept indefinitely, whatever the days field says.
    archivedRetentionDays: form.archivedRetain === 'on' ? (form.archivedRetentionDays ?? '') : null,
    retention,
  };
}

/** Settings (of a task, or the defaults) as the form shows them. */
export function formValuesOf(settings: Omit<TaskSettings, 'name'> & { name: string }): SettingsFormValues {
  const r = settings.retention;
  return {
    name: settings.name,
    frequency: settings.frequency,
    backupHour: String(settings.backupHour),
    apiUsageLimitPercent: settings.apiUsageLimitPercent == null ? '' : String(settings.apiUsageLimitPercent),
    indexForSearch: settings.indexForSearch ? 'on' : '',
    autoActivate: settings.autoActivate ? 'on' : '',
    archivedRetain: settings.archivedRetentionDays ? 'on' : '',
    archivedRetentionDays: settings.archivedRetentionDays ? String(settings.archivedRetentionDays) : '30',
    retentionKind: r.kind,
    retentionAmount: r.kind === 'within' ? String(r.amount) : '1',
    retentionUnit: r.kind === 'within' ? r.unit : 'years',
    retentionCount: r.kind === 'last' ? String(r.count) : '30',
  };
}

export function taskSettingsOf(task: IBackupTask): TaskSettings {
  return {
    name: task.name,
    frequency: task.frequency,
    backupHour: task.backupHour,
    apiUsageLimitPercent: task.apiUsageLimitPercent ?? null,
    indexForSearch: task.indexForSearch,
    autoActivate: task.autoActivate,
    archivedRetentionDays: task.archivedRetentionDays ?? null,
    retention: task.retention,
  };
}

/** Choices of the settings form. */
export const FREQUENCY_CHOICES = (Object.entries(FREQUENCY_LABELS) as [Frequency, string][]).map(([value, label]) => ({
  value,
  label,
}));
export const HOUR_CHOICES = Array.from({ length: 24 }, (_, h) => ({
  value: String(h),
  label: `${String(h).padStart(2, '0')}:00`,
}));

/** "Keep everything", "Keep 1 year", "Keep the last 30 backups". */
export function retentionLabel(retention: TaskSettings['retention']): string {
  if (retention.kind === 'all') return 'Keep every backup';
  if (retention.kind === 'last') return `Keep the last ${retention.count} backup${retention.count === 1 ? '' : 's'}`;
  const unit = retention.amount === 1 ? retention.unit.replace(/s$/, '') : retention.unit;
  return `Keep backups for ${retention.amount} ${unit}`;
}
