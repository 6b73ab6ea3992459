// Composes the Hono application from the kernel's routes. No I/O happens here: everything
// long-lived (database, logger, views) is passed in, so tests build the same app in-process.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { csrf } from 'hono/csrf';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { apiV1Routes } from './api/v1.ts';
import { bearerAuth, carriesApiCredential } from './http/bearer.ts';
import { requestOrigin } from './http/client.ts';
import type { AppDeps, AppEnv } from './http/env.ts';
import { errorResponse, handleError, handleNotFound } from './http/errors.ts';
import { readFlash } from './http/flash.ts';
import { ipGuard } from './http/ip-guard.ts';
import { currentUser, requestContext, setupGate } from './http/middleware.ts';
import { requestMetrics } from './http/request-metrics.ts';
import { transportHeaders } from './http/transport-headers.ts';
import { accountLinkRoutes } from './routes/account-links.ts';
import { accountPickerRoutes } from './routes/account-picker.ts';
import { activityRoutes } from './routes/activity.ts';
import { authRoutes } from './routes/auth.ts';
import { billingRoutes } from './routes/billing.ts';
import { billingReceivedRoutes } from './routes/billing-received.ts';
import { compareRoutes } from './routes/compare.ts';
import { healthRoutes } from './routes/health.ts';
import { homeRoutes } from './routes/home.ts';
import { jobsRoutes } from './routes/jobs.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { portalRoutes } from './routes/portal.ts';
import { portalBulkRoutes } from './routes/portal-bulk.ts';
import { portalBulkPsaRoutes } from './routes/portal-bulk-psa.ts';
import { portalEditRoutes } from './routes/portal-edit.ts';
import { portalUsageRoutes } from './routes/portal-usage.ts';
import { recoveryRoutes } from './routes/recovery.ts';
import { recoveryActionRoutes } from './routes/recovery-actions.ts';
import { recoveryExportManyRoutes } from './routes/recovery-export-many.ts';
import { recoveryItemRoutes } from './routes/recovery-item.ts';
import { replicateRoutes } from './routes/replicate.ts';
import { settingsRoutes } from './routes/settings/index.ts';
import { setupRoutes } from './routes/setup.ts';
import { setupRecoverRoutes } from './routes/setup-recover.ts';
import { signInStepRoutes } from './routes/sign-in-steps.ts';
import { smartAlertRoutes } from './routes/smart-alerts.ts';
import { ssoRoutes } from './routes/sso.ts';
import { staticRoutes } from './routes/static.ts';
import { summaryReportRoutes } from './routes/summary-reports.ts';
import { taskDrilldownRoutes } from './routes/task-drilldown.ts';
import { taskUsageRoutes } from './routes/task-usage.ts';
import { taskRoutes } from './routes/tasks.ts';

export const MAX_BODY_BYTES = 256 * 1024;

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(
    requestId({
      // Accept a caller's id only when it is short and plain, so it is safe to log.
      generator: () => crypto.randomUUID(),
      limitLength: 64,
    }),
  );
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        objectSrc: ["'none'"],
      },
      referrerPolicy: 'same-origin',
      crossOriginEmbedderPolicy: false,
      // Sent by transportHeaders, over HTTPS only.
      strictTransportSecurity: false,
      // A route's own header wins (the SSO auto-post form allows its provider as form-action).
      overwrite: false,
    }),
  );
  if (deps.metrics) app.use(requestMetrics(deps.metrics));
  app.use(transportHeaders(deps));
  app.use(requestContext(deps));
  // No kernel route takes more than a small form or JSON document; uploads get their own limits.
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        errorResponse(
          c as never,
          deps,
          413,
          'payload_too_large',
          `Requests are limited to ${MAX_BODY_BYTES / 1024} KiB.`,
        ),
    }),
  );
  // Browsers send Origin on form posts; a post from another site is refused. API calls that
  // carry their own credential (a bearer token, client credentials) have no cookie to abuse.
  const browserCsrf = csrf({ origin: (origin, c) => origin === requestOrigin(c, deps.config) });
  // An identity provider's answer is posted from its own site (SAML); the pending sign-in's state
  // and browser-binding cookie protect it instead (core/identity/sso/flow.ts). Its logout requests
  // come from its site too and must carry its signature (core/identity/sso/saml/saml-logout.ts).
  app.use((c, next) =>
    carriesApiCredential(c) || c.req.path.startsWith('/sso/callback/') || c.req.path.startsWith('/sso/logout/')
      ? next()
      : browserCsrf(c, next),
  );
  app.onError(handleError(deps));
  app.notFound(handleNotFound(deps));

  app.route('/', healthRoutes(deps));
  app.route('/', metricsRoutes(deps));
  app.route('/', staticRoutes(deps));
  app.use(currentUser(deps));
  app.use(readFlash(deps));
  app.use(bearerAuth(deps));
  app.use(setupGate(deps));
  app.use(ipGuard(deps));
  app.route('/', setupRoutes(deps));
  app.route('/', setupRecoverRoutes(deps));
  app.route('/', authRoutes(deps));
  app.route('/', ssoRoutes(deps));
  app.route('/', accountLinkRoutes(deps));
  app.route('/', signInStepRoutes(deps));
  app.route('/', homeRoutes(deps));
  app.route('/', settingsRoutes(deps));
  app.route('/', portalUsageRoutes(deps));
  app.route('/', portalBulkRoutes(deps));
  app.route('/', billingRoutes(deps));
  app.route('/', billingReceivedRoutes(deps));
  app.route('/', portalBulkPsaRoutes(deps));
  app.route('/', portalEditRoutes(deps));
  app.route('/', portalRoutes(deps));
  app.route('/', activityRoutes(deps));
  app.route('/', accountPickerRoutes(deps));
  app.route('/', recoveryRoutes(deps));
  app.route('/', recoveryActionRoutes(deps));
  app.route('/', recoveryExportManyRoutes(deps));
  app.route('/', recoveryItemRoutes(deps));
  app.route('/', taskUsageRoutes(deps));
  app.route('/', compareRoutes(deps));
  app.route('/', replicateRoutes(deps));
  app.route('/', smartAlertRoutes(deps));
  app.route('/', taskDrilldownRoutes(deps));
  app.route('/', taskRoutes(deps));
  app.route('/', jobsRoutes(deps));
  app.route('/', summaryReportRoutes(deps));
  app.route('/api/v1', apiV1Routes(deps));
  return app;
}
