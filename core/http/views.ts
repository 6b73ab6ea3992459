// Nunjucks, wired for server-rendered pages. Autoescaping is on; templates live in views/.
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { PASSWORD_RULES } from '../identity/password.ts';
import { formatDate, formatDateTime, formatTime, formatUtc } from './time-zone.ts';

export const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Views {
  render(template: string, context: Record<string, unknown>): string;
}

export function createViews(options: { watch?: boolean } = {}): Views {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: options.watch ?? false }), {
    autoescape: true,
    throwOnUndefined: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
  // Times in the reader's zone (the page context's timeZone, core/http/time-zone.ts); `utc` is
  // the exact time for a title on hover. Nunjucks calls filters with the render context as this.
  const zoneOf = (self: unknown) => (self as { ctx?: { timeZone?: string } } | undefined)?.ctx?.timeZone;
  const asDate = (value: unknown) => (value instanceof Date ? value : new Date(String(value)));
  env.addFilter('datetime', function (this: unknown, value: unknown) {
    const d = asDate(value);
    return Number.isNaN(d.getTime()) ? '' : formatDateTime(d, zoneOf(this));
  });
  env.addFilter('bytes', formatBytes);
  env.addGlobal('passwordRules', PASSWORD_RULES);
  // Snapshots can be minutes apart or less: their times show seconds.
  env.addFilter('datetimeSeconds', function (this: unknown, value: unknown) {
    const d = asDate(value);
    return Number.isNaN(d.getTime()) ? '' : formatDateTime(d, zoneOf(this), true);
  });
  env.addFilter('date', function (this: unknown, value: unknown) {
    const d = asDate(value);
    return Number.isNaN(d.getTime()) ? '' : formatDate(d, zoneOf(this));
  });
  env.addFilter('time', function (this: unknown, value: unknown) {
    const d = asDate(value);
    return Number.isNaN(d.getTime()) ? '' : formatTime(d, zoneOf(this));
  });
  env.addFilter('utc', (value: unknown) => {
    const d = asDate(value);
    return Number.isNaN(d.getTime()) ? '' : formatUtc(d);
  });
  return { render: (template, context) => env.render(template, context) };
}

const BYTE_UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** A size for people: "0 bytes", "812 bytes", "1.4 MB" (decimal units, as file managers show). */
export function formatBytes(value: unknown): string {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1000) return `${n} byte${n === 1 ? '' : 's'}`;
  let size = n;
  let unit = 0;
  while (size >= 1000 && unit < BYTE_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${size >= 100 ? Math.round(size) : size.toFixed(1)} ${BYTE_UNITS[unit]}`;
}
