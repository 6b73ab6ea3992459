// Per-request plumbing: request id and logger, a request-scoped EntityManager, the signed-in
// user, the first-run setup gate, and the sign-in requirement.
import type { Context, MiddlewareHandler } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { canReach, hasPermission, type Principal, principalForUser } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { AppError } from '../errors.ts';
import type { IOrganization, ISession, IUser, SessionStage } from '../identity/entities.ts';
import type { Permission } from '../identity/permissions.ts';
import { findSession, type SessionPolicy } from '../identity/session-service.ts';
import { isSetupComplete } from '../identity/setup-service.ts';
import { revalidateSsoSession } from '../identity/sso/revalidation.ts';
import { clientIp, requestOrigin, wantsJson } from './client.ts';
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
    const path = redactPath(new URL(c.req.url).pathname);
    if (path === '/healthz' || path.startsWith('/static/')) return;
    log.info(
      { method: c.req.method, path, status: c.res.status, ms: Math.round(performance.now() - started) },
      'request',
    );
  };
}

/** Single-use link tokens travel in the path; the log keeps only which kind of link it was. */
export function redactPath(path: string): string {
  return path.replace(/^\/(confirm-email|reset-password)\/[^/]+/, '/$1/[token]');
}

/** Where a session that has not finished signing in must go next. */
export const STAGE_PAGES: Record<Exclude<SessionStage, 'active'>, string> = {
  second_factor: '/login/two-factor',
  enrol_second_factor: '/login/two-factor/setup',
  new_password: '/login/new-password',
};

export function sessionPolicy(deps: AppDeps): SessionPolicy {
  return { maxAgeHours: deps.config.sessionMaxAgeHours, idleMinutes: deps.config.sessionIdleMinutes };
}

/**
 * Loads the session of the cookie, if any. Only a session that finished signing in makes a
 * user and a principal; the organization acted on is the account opened from a portal, as long
 * as the user may still reach it, else the user's own.
 */
export function currentUser(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = await readSessionToken(c, deps);
    let session = token ? await findSession(c.get('em'), token, sessionPolicy(deps), deps.now()) : null;
    if (session?.ssoRevalidateAt && session.ssoRevalidateAt <= deps.now()) {
      session = await revalidated(c, deps, session);
    }
    if (token && !session) clearSessionCookie(c);
    c.set('session', session ?? undefined);
    c.set('sessionToken', session ? token : undefined);
    if (session?.stage === 'active') {
      const user = session.user as IUser;
      const principal = principalForUser(user);
      const acting = session.actingOrganization as IOrganization | null | undefined;
      c.set('user', user);
      c.set('principal', principal);
      c.set('organization', acting && canReach(principal, acting) ? acting : principal.home);
    } else {
      c.set('user', undefined);
      c.set('principal', undefined);
      c.set('organization', undefined);
    }
    await next();
  };
}

/** An SSO session whose provider must vouch again (core/identity/sso/revalidation.ts); null: it ended. */
async function revalidated(c: Context<AppEnv>, deps: AppDeps, session: ISession): Promise<ISession | null> {
  const outcome = await revalidateSsoSession(c.get('em'), session, {
    cipher: deps.credentials,
    allowLoopback: deps.config.ssoAllowLoopback,
    idleMinutes: deps.config.sessionIdleMinutes,
    baseUrl: requestOrigin(c, deps.config),
    now: deps.now(),
  });
  if (outcome.kind === 'valid') return session;
  await recordAudit(c.get('em'), {
    organization: outcome.user.organization as IOrganization,
    activity: 'Sign-out',
    status: 'failed',
    account: outcome.user.email,
    description: `Single sign-on session ended: ${outcome.reason}`,
    actor: {
      label: outcome.user.email,
      id: outcome.user.id,
      ip: clientIp(c, deps.config),
      userAgent: c.req.header('user-agent'),
    },
  });
  return null;
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
    if (c.get('principal')) return next();
    if (wantsJson(c)) return errorResponse(c, deps, 401, 'unauthenticated', 'Sign in first.');
    const stage = c.get('session')?.stage;
    if (stage && stage !== 'active') return c.redirect(STAGE_PAGES[stage as Exclude<SessionStage, 'active'>], 303);
    return c.redirect(loginUrlFor(c), 303);
  };
}

/** Refuses (403) callers without the permission; administrators hold every permission. */
export function requirePermission(permission: Permission): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!principal) throw new AppError('unauthenticated', 'Sign in first.', 401);
    if (!hasPermission(principal, permission)) throw new MissingPermissionError(permission);
    await next();
  };
}

/** The principal of a route behind requireUser. */
export function principalOf(c: Context<AppEnv>): Principal {
  const principal = c.get('principal');
  if (!principal) throw new AppError('unauthenticated', 'Sign in first.', 401);
  return principal;
}

/** The organization a route behind requireUser acts on. */
export function organizationOf(c: Context<AppEnv>): IOrganization {
  const org = c.get('organization');
  if (!org) throw new AppError('unauthenticated', 'Sign in first.', 401);
  return org;
}

function loginUrlFor(c: Context): string {
  const url = new URL(c.req.url);
  const next = `${url.pathname}${url.search}`;
  return next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}

const SELF = 'http://holdfast.invalid';

/**
 * Only a normalized path on this site is followed after login, never another host: the one check
 * every `next=` goes through. Browsers ignore tabs and newlines inside URLs, so anything with
 * control characters or whitespace is refused outright.
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
  // Resolving dot segments can leave `//host/…` (from `/..//host`, `/%2e%2e//host`, `/.//host`),
  // which a browser reads as another host: only the normalized path is followed, and never that.
  if (url.origin !== SELF || url.pathname.startsWith('//')) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
