// Response headers that depend on how a request arrived. HSTS only over HTTPS (directly, behind a
// trusted proxy that says so, or an https HOLDFAST_PUBLIC_URL): an appliance reached at
// http://host:8080 must not tell browsers to insist on HTTPS for that host. API responses carry
// tenant data and tokens: no browser or proxy cache may keep them, errors included.
import type { MiddlewareHandler } from 'hono';
import { isHttps } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';

const HSTS = 'max-age=15552000; includeSubDomains';

export function transportHeaders(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (isHttps(c, deps.config)) c.header('Strict-Transport-Security', HSTS);
    if (new URL(c.req.url).pathname.startsWith('/api/')) c.header('Cache-Control', 'no-store');
  };
}
