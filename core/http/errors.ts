// One error handler for the whole app: JSON `{error:{code,message}}` under /api/, an HTML
// page elsewhere. Unexpected errors are logged with the request id and shown without detail.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../errors.ts';
import { wantsJson } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { renderPage } from './page.ts';

const titles: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Forbidden',
  404: 'Page not found',
  405: 'Method not allowed',
  409: 'Conflict',
  410: 'Link expired',
  413: 'Request too large',
  415: 'Unsupported content type',
  422: 'Check your input',
  429: 'Too many requests',
  500: 'Something went wrong',
  503: 'Service unavailable',
};

const codes: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal_error',
  503: 'unavailable',
};

export function errorResponse(
  c: Context<AppEnv>,
  deps: AppDeps,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  details?: Record<string, string>,
): Response {
  if (wantsJson(c)) {
    return c.json({ error: { code, message, ...(details ? { fields: details } : {}) } }, status);
  }
  return renderPage(c, deps, 'pages/error.njk', { title: titles[status] ?? 'Error', status, message }, status);
}

export function handleError(deps: AppDeps) {
  return (err: Error, c: Context<AppEnv>): Response => {
    if (err instanceof AppError) {
      return errorResponse(c, deps, err.status as ContentfulStatusCode, err.code, err.message, err.fields);
    }
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      return errorResponse(c, deps, status, codes[status] ?? 'error', err.message || titles[status] || 'Error');
    }
    (c.get('log') ?? deps.log).error({ err }, 'unhandled error');
    return errorResponse(
      c,
      deps,
      500,
      'internal_error',
      `An unexpected error occurred. Quote reference ${c.get('requestId') ?? 'unknown'} to your administrator.`,
    );
  };
}

export function handleNotFound(deps: AppDeps) {
  return (c: Context<AppEnv>): Response =>
    errorResponse(c, deps, 404, 'not_found', 'There is nothing at this address.');
}
