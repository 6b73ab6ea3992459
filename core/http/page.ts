// Renders a full page with what every layout needs (user, navigation, the account being
// worked in, version).
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppDeps, AppEnv } from './env.ts';
import { takeFlash } from './flash.ts';
import { activityTabsFor, navigationFor, settingsTabsFor } from './navigation.ts';
import { timeZoneOf } from './time-zone.ts';

export function renderPage(
  c: Context<AppEnv>,
  deps: AppDeps,
  template: string,
  context: Record<string, unknown> = {},
  status: ContentfulStatusCode = 200,
): Response {
  const path = new URL(c.req.url).pathname;
  const user = c.get('user');
  const principal = c.get('principal');
  const organization = c.get('organization');
  const actingElsewhere = principal && organization && organization.id !== principal.home.id;
  const html = deps.views.render(template, {
    user: user ? { email: user.email, organizationName: (organization ?? user.organization).name } : undefined,
    navigation: user ? navigationFor(path, principal, organization) : [],
    settingsTabs: principal && organization ? settingsTabsFor(path, principal, organization) : [],
    activityTabs: principal ? activityTabsFor(path, principal) : [],
    acting: actingElsewhere
      ? { name: organization.name, kind: organization.kind, homeName: principal.home.name }
      : null,
    version: deps.version,
    timeZone: timeZoneOf(c),
    requestId: c.get('requestId'),
    ...context,
    // A page's own banner wins; otherwise the one-time banner the previous response set.
    ...banners(c, context),
  });
  // Signed-in pages show tenant data: never keep them in a shared or back-button cache.
  if (user) c.header('Cache-Control', 'no-store');
  return c.html(html, status);
}

/** The page's notice and failure: its own, else the one-time flash (taken only when shown). */
function banners(c: Context<AppEnv>, context: Record<string, unknown>): { notice: unknown; failure: unknown } {
  if (context.notice || context.failure) return { notice: context.notice ?? null, failure: context.failure ?? null };
  const flash = takeFlash(c);
  return { notice: flash && !flash.failure ? flash.text : null, failure: flash?.failure ? flash.text : null };
}
