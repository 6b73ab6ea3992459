// htmx requests that want only a fragment of a page (a table after a filter change). A
// history-restore request (the user went back and htmx has no cached copy) wants the full page.
import type { Context } from 'hono';
import { timeZoneOf } from './time-zone.ts';

export function wantsFragment(c: Context): boolean {
  c.header('Vary', 'HX-Request');
  return c.req.header('hx-request') === 'true' && c.req.header('hx-history-restore-request') !== 'true';
}

/** Renders a partial template on its own; like every signed-in page, never cached. */
export function renderFragment(
  c: Context,
  views: { render(template: string, context: Record<string, unknown>): string },
  template: string,
  context: Record<string, unknown>,
): Response {
  c.header('Cache-Control', 'no-store');
  return c.html(views.render(template, { timeZone: timeZoneOf(c), ...context, fragment: true }));
}
