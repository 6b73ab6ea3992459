// When a summary report is due: the period a schedule is in at an instant, computed on the
// calendar of the settings' time zone (so 07:00 stays 07:00 across a DST change). Daily reports
// go out every day at the hour, weekly ones on Mondays, monthly ones on the 1st. The period's
// key names the send, e.g. `d:2026-12-07`, `w:2026-12-07` (the Monday), `m:2026-12`.
import type { ReportFrequency } from './summary-entities.ts';

interface LocalNow {
  y: number;
  m: number;
  d: number;
  hour: number;
}

function localNow(now: Date, timeZone: string): LocalNow {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { y: get('year'), m: get('month'), d: get('day'), hour: get('hour') };
}

/** A calendar day as a UTC midnight (only its Y-M-D is used). */
const day = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d));
const ymd = (date: Date) => date.toISOString().slice(0, 10);

/** The key of the latest period whose send time (the hour, local) is at or before `now`. */
export function duePeriod(frequency: ReportFrequency, hour: number, timeZone: string, now: Date): string {
  const t = localNow(now, timeZone);
  const before = t.hour < hour;
  if (frequency === 'daily') return `d:${ymd(day(t.y, t.m, t.d - (before ? 1 : 0)))}`;
  if (frequency === 'weekly') {
    const sinceMonday = (day(t.y, t.m, t.d).getUTCDay() + 6) % 7;
    const back = sinceMonday === 0 && before ? 7 : sinceMonday;
    return `w:${ymd(day(t.y, t.m, t.d - back))}`;
  }
  const first = t.d === 1 && before ? day(t.y, t.m - 1, 1) : day(t.y, t.m, 1);
  return `m:${ymd(first).slice(0, 7)}`;
}

/** "7 December 2026", "week of 7 December 2026", "December 2026". */
export function periodLabel(period: string): string {
  const [kind, date = ''] = period.split(':');
  const at = new Date(`${date.length === 7 ? `${date}-01` : date}T00:00:00Z`);
  const opts: Intl.DateTimeFormatOptions =
    kind === 'm' ? { month: 'long', year: 'numeric' } : { day: 'numeric', month: 'long', year: 'numeric' };
  const text = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: 'UTC' }).format(at);
  return kind === 'w' ? `week of ${text}` : text;
}
