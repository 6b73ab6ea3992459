// Schedules and days in words: weekdays named and listed Monday first (ISO order), a weekly task
// on the weekday it was created, 3 times a day with its hours in order, and the chart's days.
import { describe, expect, it } from 'vitest';
import { longDay, tableDay } from '../../../core/routes/task-chart.ts';
import { WEEKDAYS, weekdayOf } from '../../../core/scheduler/schedule.ts';
import { scheduleText } from '../../../core/tasks/task-overview.ts';

describe('schedules and days in words', () => {
  it('lists weekdays in ISO order, Monday first', () => {
    expect(WEEKDAYS).toEqual(['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']);
  });

  it('names the UTC weekday of an instant, before 1970 too', () => {
    expect(weekdayOf(new Date('2026-12-07T00:00:00Z'))).toBe('Monday');
    expect(weekdayOf(new Date('2026-12-13T23:59:59Z'))).toBe('Sunday');
    expect(weekdayOf(new Date('1969-12-31T12:00:00Z'))).toBe('Wednesday');
  });

  it('says each frequency with its days and hours', () => {
    const createdAt = new Date('2026-12-08T15:00:00Z'); // a Tuesday
    expect(scheduleText({ frequency: 'daily', backupHour: 2, createdAt })).toBe('Daily at 02:00 UTC');
    expect(scheduleText({ frequency: 'weekly', backupHour: 2, createdAt })).toBe('Weekly on Tuesdays at 02:00 UTC');
    expect(scheduleText({ frequency: 'every_3_days', backupHour: 23, createdAt })).toBe('Every 3 days at 23:00 UTC');
    expect(scheduleText({ frequency: 'three_times_daily', backupHour: 20, createdAt })).toBe(
      '3 times a day at 04:00, 12:00 and 20:00 UTC',
    );
  });

  it("names the chart's days instead of showing ISO dates", () => {
    expect(longDay('2026-12-07')).toBe('Monday 7 Dec 2026');
    expect(tableDay('2026-12-13')).toBe('Sun 13 Dec');
  });
});
