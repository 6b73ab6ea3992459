// When a task's backups run, as pure functions of its settings. Everything is UTC epoch
// arithmetic on milliseconds — no Date getters or setters that read the process's time zone —
// so a host in Europe/Berlin computes the same instants as one in UTC, across DST changes too.
//
// daily: every day at the backup hour; three_times_daily: at the hour and 8 and 16 hours later;
// every_3_days and weekly: every 3rd / 7th day counted from the day the task was created (its
// anchor), so a weekly task created on a Tuesday runs on Tuesdays.
import type { Frequency } from '../tasks/entities.ts';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export interface ScheduleSettings {
  frequency: Frequency;
  /** 0–23, UTC. */
  backupHour: number;
  /** The day numbering of every_3_days and weekly starts here (the task's creation). */
  anchor: Date;
}

/** Day names in ISO order (Monday first), as every schedule shows and lists them. */
export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

/** The UTC weekday of an instant, by name. */
export function weekdayOf(at: Date): (typeof WEEKDAYS)[number] {
  // Epoch day 0 (1 Jan 1970) was a Thursday: ISO index 3.
  return WEEKDAYS[(((epochDay(at.getTime()) + 3) % 7) + 7) % 7] as (typeof WEEKDAYS)[number];
}

const PERIOD_DAYS: Record<Frequency, number> = { daily: 1, every_3_days: 3, weekly: 7, three_times_daily: 1 };

/** Hours of the day (UTC) the task runs at, ascending. */
export function runHours(settings: Pick<ScheduleSettings, 'frequency' | 'backupHour'>): number[] {
  const h = settings.backupHour;
  if (!Number.isInteger(h) || h < 0 || h > 23) throw new RangeError(`backup hour ${h} is not 0–23`);
  if (settings.frequency !== 'three_times_daily') return [h];
  return [h, (h + 8) % 24, (h + 16) % 24].sort((a, b) => a - b);
}

function epochDay(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function runsOnDay(settings: ScheduleSettings, day: number): boolean {
  const period = PERIOD_DAYS[settings.frequency];
  const offset = day - epochDay(settings.anchor.getTime());
  return ((offset % period) + period) % period === 0;
}

/** The latest run instant at or before `at` (the slot that is due now), or undefined if none. */
export function latestRunAtOrBefore(settings: ScheduleSettings, at: Date): Date | undefined {
  const t = at.getTime();
  const today = epochDay(t);
  for (let day = today; day >= today - PERIOD_DAYS[settings.frequency]; day--) {
    if (!runsOnDay(settings, day)) continue;
    for (const hour of runHours(settings).reverse()) {
      const slot = day * DAY_MS + hour * HOUR_MS;
      if (slot <= t) return new Date(slot);
    }
  }
  return undefined;
}

/** The first run instant strictly after `after`. */
export function nextRunAfter(settings: ScheduleSettings, after: Date): Date {
  const t = after.getTime();
  const today = epochDay(t);
  for (let day = today; day <= today + PERIOD_DAYS[settings.frequency]; day++) {
    if (!runsOnDay(settings, day)) continue;
    for (const hour of runHours(settings)) {
      const slot = day * DAY_MS + hour * HOUR_MS;
      if (slot > t) return new Date(slot);
    }
  }
  throw new Error('no run within one period: the schedule settings are inconsistent');
}

/**
 * The slot the scheduler should enqueue now, if any: the latest run instant at or before `now`
 * that is later than both the last slot already enqueued and the task's creation (a task
 * created at 10:00 with backup hour 3 first runs the next day). A stopped appliance catches up
 * with one run, not one per missed slot.
 */
export function dueSlot(settings: ScheduleSettings, lastScheduledFor: Date | null, now: Date): Date | undefined {
  const slot = latestRunAtOrBefore(settings, now);
  if (!slot) return undefined;
  const floor = Math.max(lastScheduledFor?.getTime() ?? Number.NEGATIVE_INFINITY, settings.anchor.getTime());
  return slot.getTime() > floor ? slot : undefined;
}
