// One-time banners ("3 queued for backup now."): the text travels in a signed, short-lived,
// HttpOnly cookie set with the redirect and cleared by the first full page that shows it, so a
// reload does not repeat it and nothing in the URL can put words on a page.
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, setSignedCookie } from 'hono/cookie';
import { isHttps } from './client.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { readSignedCookie } from './signed-cookie.ts';

const FLASH_COOKIE = 'holdfast_flash';
/** Long enough for the redirect that follows; a banner never waits for a later visit. */
const FLASH_SECONDS = 60;

/** A banner: a success notice, or a failure the user has to act on. */
export interface Flash {
  text: string;
  failure?: boolean;
}

/** Answers with a 303 to `location`, its page showing `text` once (as a failure when asked). */
export async function redirectWithFlash(
  c: Context<AppEnv>,
  deps: AppDeps,
  location: string,
  text: string,
  kind: 'notice' | 'failure' = 'notice',
): Promise<Response> {
  const flash: Flash = kind === 'failure' ? { text, failure: true } : { text };
  await setSignedCookie(c, FLASH_COOKIE, JSON.stringify(flash), deps.cookieSecret, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: isHttps(c, deps.config),
    path: '/',
    maxAge: FLASH_SECONDS,
  });
  return c.redirect(location, 303);
}

/** Reads a pending banner (signature checked) for renderPage to show and clear. */
export function readFlash(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const value = readSignedCookie(c, deps.cookieSecret, FLASH_COOKIE);
    c.set('flash', typeof value === 'string' && value ? parsed(value) : undefined);
    await next();
  };
}

function parsed(value: string): Flash | undefined {
  try {
    const flash = JSON.parse(value) as Partial<Flash>;
    return typeof flash.text === 'string' && flash.text
      ? { text: flash.text, failure: flash.failure === true }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The pending banner, cleared so that it is shown on this page only. */
export function takeFlash(c: Context<AppEnv>): Flash | undefined {
  const text = c.get('flash');
  if (text === undefined) return undefined;
  c.set('flash', undefined);
  deleteCookie(c, FLASH_COOKIE, { path: '/' });
  return text;
}
