// IP restrictions on every request of a signed-in user (or API key): the rules of the caller's
// own organization apply. A refused request is audited and answered with "Access denied".
import type { MiddlewareHandler } from 'hono';
import { addressAllowed } from '../access/ip-rules.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { clientIp, wantsJson } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { renderPage } from './page.ts';

export function ipGuard(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    // Signing out is always allowed: it only takes access away.
    if (!principal?.home.ipRestrictionsEnabled || new URL(c.req.url).pathname === '/logout') return next();
    const ip = clientIp(c, deps.config);
    if (await addressAllowed(c.get('em'), principal.home, ip)) return next();
    await recordAudit(c.get('em'), {
      organization: principal.home,
      activity: 'Access denied',
      status: 'failed',
      account: principal.user?.email ?? principal.label,
      description: `${c.req.method} ${new URL(c.req.url).pathname} refused: ${ip ?? 'an unknown address'} is not a trusted IP address`,
      actor: { label: principal.label, id: principal.user?.id ?? null, ip, userAgent: c.req.header('user-agent') },
    });
    if (wantsJson(c)) {
      return c.json(
        { error: { code: 'ip_not_trusted', message: 'Access denied: your IP address is not trusted.' } },
        403,
      );
    }
    // Show the page as to a signed-out visitor: nothing of the tenant is rendered.
    c.set('user', undefined);
    return renderPage(c, deps, 'pages/access-denied.njk', { title: 'Access denied', ip, signedIn: true }, 403);
  };
}
