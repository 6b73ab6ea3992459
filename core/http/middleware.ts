// Per-request plumbing: request id and logger, a request-scoped EntityManager, the signed-in
// user, the first-run setup gate, and the sign-in requirement.
import type { Context, MiddlewareHandler } from 'hono';
import { userForSession } from '../identity/session-service.ts';
import { isSetupComplete } from '../identity/setup-service.ts';
import { wantsJson } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { errorResponse } from './errors.ts';
import { clearSessionCookie, readSessionToken } from './session-cookie.ts';

/** Logs one line per request and gives each request its own identity map (EntityManager fork). */
export function requestContext(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const log = deps.log.child({ reqId: c.get('requestId') });
    c.set('log', log);
    c.set('em', deps.orm.em.fork());
    const started = performance.now();
    await next();
    const path = new URL(c.req.url).pathname;
    if (path === '/healthz' || path.startsWith('/static/')) return;
    log.info(
      { method: c.req.method, path, status: c.res.status, ms: Math.round(performance.now() - started) },
      'request',
    );
  };
}

/** Loads the user of the session cookie, if any. */
export function currentUser(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = await readSessionToken(c, deps);
    const user = token ? await userForSession(c.get('em'), token) : null;
    if (token && !user) clearSessionCookie(c);
    c.set('sessionToken', user ? token : undefined);
    c.set('user', user ?? undefined);
    await next();
  };
}

const ungatedPrefixes = ['/setup', '/static/', '/healthz', '/readyz', '/api/v1/status', '/api/v1/openapi.json'];

/** Until the first administrator exists, every page leads to the setup page. */
export function setupGate(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!deps.setupState.complete) {
      deps.setupState.complete = await isSetupComplete(c.get('em'));
    }
    const path = new URL(c.req.url).pathname;
    if (deps.setupState.complete || ungatedPrefixes.some((p) => path === p || path.startsWith(p))) {
      return next();
    }
    if (wantsJson(c)) {
      return errorResponse(c, deps, 503, 'setup_required', 'The appliance has not been set up yet; open /setup.');
    }
    return c.redirect('/setup', 303);
  };
}

/** Pages behind sign-in: browsers are sent to the login page, API callers get a 401. */
export function requireUser(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get('user')) return next();
    if (wantsJson(c)) return errorResponse(c, deps, 401, 'unauthenticated', 'Sign in first.');
    return c.redirect(loginUrlFor(c), 303);
  };
}

function loginUrlFor(c: Context): string {
  const url = new URL(c.req.url);
  const next = `${url.pathname}${url.search}`;
  return next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}

const SELF = 'http://holdfast.invalid';

/**
 * Only a path on this site is followed after login, never another host. Browsers ignore tabs and
 * newlines inside URLs, so anything with control characters or whitespace is refused outright.
 */
export function safeNext(value: string | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (!value?.startsWith('/') || /[\u0000-\u0020\u007f\\]/.test(value)) return '/';
  let url: URL;
  try {
    url = new URL(value, SELF);
  } catch {
    return '/';
  }
  return url.origin === SELF ? `${url.pathname}${url.search}${url.hash}` : '/';
}
