// Settings: every section is its own router under /settings; this file only joins them.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { requireUser } from '../../http/middleware.ts';
import { accountRoutes } from './account.ts';
import { apiKeyRoutes } from './api-keys.ts';
import { integrationRoutes } from './integrations.ts';
import { ipRestrictionRoutes } from './ip-restrictions.ts';
import { notificationRoutes } from './notifications.ts';
import { outboxRoutes } from './outbox.ts';
import { profileRoutes } from './profile.ts';
import { recoverySheetRoutes } from './recovery-sheet.ts';
import { securitySettingsRoutes } from './security.ts';
import { ssoSettingsRoutes } from './sso.ts';
import { storageSettingsRoutes } from './storage.ts';
import { userRoutes } from './users.ts';
import { webhookRoutes } from './webhooks.ts';

export function settingsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/settings', requireUser(deps));
  app.use('/settings/*', requireUser(deps));
  app.get('/settings', (c) => c.redirect('/settings/account', 303));
  app.route('/', accountRoutes(deps));
  app.route('/', profileRoutes(deps));
  app.route('/', userRoutes(deps));
  app.route('/', ipRestrictionRoutes(deps));
  app.route('/', outboxRoutes(deps));
  app.route('/', apiKeyRoutes(deps));
  app.route('/', securitySettingsRoutes(deps));
  app.route('/', ssoSettingsRoutes(deps));
  app.route('/', storageSettingsRoutes(deps));
  app.route('/', notificationRoutes(deps));
  app.route('/', webhookRoutes(deps));
  app.route('/', recoverySheetRoutes(deps));
  app.route('/', integrationRoutes(deps));
  return app;
}
