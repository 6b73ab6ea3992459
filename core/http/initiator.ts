// Who started a job from a request, as the job queue records it: a signed-in user or an API key.
import type { Context } from 'hono';
import type { Initiator } from '../jobs/queue.ts';
import { clientIp } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { principalOf } from './middleware.ts';

export function jobInitiatorOf(c: Context<AppEnv>, deps: AppDeps): Initiator & { ip: string | null } {
  const principal = principalOf(c);
  return {
    kind: principal.kind === 'api_key' ? 'api_key' : 'user',
    id: principal.user?.id ?? principal.apiKeyId ?? null,
    label: principal.label,
    ip: clientIp(c, deps.config) ?? null,
  };
}
