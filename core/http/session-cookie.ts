// The session cookie: a signed, HttpOnly, SameSite=Lax cookie holding the session token,
// Secure whenever the appliance is reached over HTTPS.
import type { Context } from 'hono';
import { deleteCookie, setSignedCookie } from 'hono/cookie';
import { isHttps } from './client.ts';
import type { AppDeps } from './env.ts';
import { readSignedCookie } from './signed-cookie.ts';

export const SESSION_COOKIE = 'holdfast_session';

export async function readSessionToken(c: Context, deps: AppDeps): Promise<string | undefined> {
  const value = readSignedCookie(c, deps.cookieSecret, SESSION_COOKIE);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export async function writeSessionCookie(c: Context, deps: AppDeps, token: string, expires: Date): Promise<void> {
  await setSignedCookie(c, SESSION_COOKIE, token, deps.cookieSecret, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: isHttps(c, deps.config),
    path: '/',
    expires,
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}
