// The "performed by" of an audit entry for the caller of a request: a user, or an API key.
import type { Context } from 'hono';
import type { AuditActor } from '../audit/audit-service.ts';
import { clientIp } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { principalOf } from './middleware.ts';

export function auditActor(c: Context<AppEnv>, deps: AppDeps): AuditActor {
  const principal = principalOf(c);
  return {
    label: principal.label,
    id: principal.user?.id ?? principal.apiKeyId ?? null,
    ip: clientIp(c, deps.config),
    userAgent: c.req.header('user-agent'),
  };
}
