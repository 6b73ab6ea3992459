// Helpers for the two-factor and Security settings tests: users made directly through the ORM
// (one shared password hash, since each hash costs a few hundred ms), sign-in through the real
// routes, the session cookie of a response, and the secret shown on an enrolment page.
import type { Hono } from 'hono';
import type { AppEnv } from '../../core/http/env.ts';
import { codeForStep, totpStep } from '../../core/identity/two-factor.ts';
import { form } from './kernel.ts';
import { makeOrganization, makeUser, TEST_PASSWORD } from './tenants.ts';

/** Organizations and users straight through the ORM (see tenants.ts), under this file's names. */
export const USER_PASSWORD = TEST_PASSWORD;
export const addOrganization = makeOrganization;
export const addUser = makeUser;

/** The `name=value` of the session cookie a response sets, or undefined. */
export function sessionCookieOf(res: Response): string | undefined {
  const header = res.headers.get('set-cookie');
  const first = header?.split(';')[0];
  return first?.startsWith('holdfast_session=') && first.length > 'holdfast_session='.length ? first : undefined;
}

/** The one-time banner cookie a redirect set (core/http/flash.ts), to send with the next request. */
export function flashOf(res: Response): string {
  return /holdfast_flash=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
}

export interface PasswordStep {
  status: number;
  location: string | null;
  cookie: string;
}

/** Posts the login form; returns where it leads and the session cookie it set. */
export async function passwordStep(
  app: Hono<AppEnv>,
  email: string,
  password = USER_PASSWORD,
  next = '/',
): Promise<PasswordStep> {
  const res = await app.request('/login', form({ email, password, next }));
  const cookie = sessionCookieOf(res);
  if (res.status !== 303 || !cookie) throw new Error(`password step failed with ${res.status}`);
  return { status: res.status, location: res.headers.get('location'), cookie };
}

/** Sends a form with a session cookie. */
export function post(
  app: Hono<AppEnv>,
  path: string,
  cookie: string,
  fields: Record<string, string>,
): Promise<Response> | Response {
  const request = form(fields);
  return app.request(path, { ...request, headers: { ...request.headers, cookie } });
}

export function get(app: Hono<AppEnv>, path: string, cookie?: string): Promise<Response> | Response {
  return app.request(path, cookie ? { headers: { cookie } } : {});
}

/** The base32 secret shown (grouped) on an enrolment page. */
export function secretOnPage(html: string): string {
  const match = /id="totp-secret"[^>]*>([A-Z2-7 ]+)</.exec(html);
  if (!match?.[1]) throw new Error('no secret on the page');
  return match[1].replaceAll(' ', '');
}

export function recoveryCodesOnPage(html: string): string[] {
  return [...html.matchAll(/<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})<\/code><\/li>/g)].map(
    (m) => m[1] as string,
  );
}

/** The code an authenticator app shows at `at`, `offset` steps later. */
export function appCode(secret: string, at: Date, offset = 0): string {
  return codeForStep(secret, totpStep(at) + offset);
}

/** A test clock: the app's deps.now reads it; tests move it forward a step at a time. */
export function testClock(deps: { now: () => Date }): { now(): Date; advance(seconds: number): Date } {
  let current = new Date();
  deps.now = () => current;
  return {
    now: () => current,
    advance(seconds: number) {
      current = new Date(current.getTime() + seconds * 1000);
      return current;
    },
  };
}
