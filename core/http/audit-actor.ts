// The audit log's "performed by" for the request: the principal, the client address and browser.
import type { Context } from 'hono';
import type { AuditActor } from '../audit/audit-service.ts';
import { clientIp } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { principalOf } from './middleware.ts';

export function auditActorOf(c: Context<AppEnv>, deps: AppDeps): AuditActor {
  const principal = principalOf(c);
  return {
    label: principal.label,
    id: principal.user?.id ?? principal.apiKeyId ?? null,
    ip: clientIp(c, deps.config),
    userAgent: c.req.header('user-agent'),
  };
}

/** The same, under the name the API routers use. */
export const auditActor = auditActorOf;
