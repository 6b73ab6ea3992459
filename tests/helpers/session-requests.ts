// Requests a signed-in browser makes, for tests that drive pages and /api/v1 with a session
// cookie: the app and the cookie are read when each request is made (tests set them in beforeAll).
import type { Hono } from 'hono';
import type { AppEnv } from '../../core/http/env.ts';
import { ORIGIN } from './kernel.ts';

export interface SessionRequests {
  /** GET a page (or any path) as `as`, the default session unless given. */
  get(path: string, as?: string): Promise<Response>;
  /** POST a form; fields as pairs keep repeated names and their order. */
  post(path: string, fields: [string, string][] | Record<string, string>, as?: string): Promise<Response>;
  /** Call /api/v1 with a JSON body (none when `body` is undefined). */
  api(method: string, path: string, body?: unknown, as?: string): Promise<Response>;
}

export function sessionRequests(app: () => Hono<AppEnv>, cookie: () => string): SessionRequests {
  return {
    get: (path, as = cookie()) => Promise.resolve(app().request(path, { headers: { cookie: as, origin: ORIGIN } })),
    post: (path, fields, as = cookie()) =>
      Promise.resolve(
        app().request(path, {
          method: 'POST',
          headers: { cookie: as, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields).toString(),
        }),
      ),
    api: (method, path, body, as = cookie()) =>
      Promise.resolve(
        app().request(`/api/v1${path}`, {
          method,
          headers: {
            cookie: as,
            origin: ORIGIN,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      ),
  };
}
