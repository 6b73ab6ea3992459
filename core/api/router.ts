// Building blocks every /api/v1 router shares: the router factory (payload problems become a
// 422 with one message per field), the sign-in requirement with its WWW-Authenticate header,
// and the permission check.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { fieldErrorsFrom } from '../errors.ts';
import { API_REALM } from '../http/bearer.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { errorResponse } from '../http/errors.ts';
import { requirePermission } from '../http/middleware.ts';
import type { Permission } from '../identity/permissions.ts';

export function createApiRouter(deps: AppDeps): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        return errorResponse(
          c as never,
          deps,
          422,
          'validation_failed',
          'The request failed validation.',
          fieldErrorsFrom(result.error.issues),
        );
      }
      return undefined;
    },
  });
}

/** 401 unless a session or a bearer token identified the caller. */
export const requirePrincipal: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get('principal')) return next();
  c.header('WWW-Authenticate', `Bearer realm="${API_REALM}"`);
  return c.json(
    { error: { code: 'unauthenticated', message: 'Send an access token (Authorization: Bearer …) or sign in.' } },
    401,
  );
};

/** Route middleware: a principal holding this permission (401, then 403). */
export function guarded(permission: Permission): MiddlewareHandler<AppEnv>[] {
  return [requirePrincipal, requirePermission(permission)];
}

/** Every operation that needs a caller lists these, so the document says how to authenticate. */
export const SECURED: Record<string, string[]>[] = [{ bearerAuth: [] }, { oauth2: [] }, { session: [] }];
