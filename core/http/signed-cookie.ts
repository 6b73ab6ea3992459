// Reads a cookie signed by Hono's setSignedCookie ("value.base64(HMAC-SHA256(secret, value))")
// with node:crypto, synchronously. Hono's getSignedCookie imports a WebCrypto key and verifies
// through the thread pool on every request, for every signed cookie name asked, even when the
// cookie is absent: the session and flash cookies cost more than most pages' queries.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';

/** The signed value; false when the signature does not match; undefined when there is no such cookie. */
export function readSignedCookie(c: Context, secret: string, name: string): string | false | undefined {
  const raw = getCookie(c, name);
  if (raw === undefined) return undefined;
  const at = raw.lastIndexOf('.');
  if (at < 0) return undefined;
  const value = raw.substring(0, at);
  const signature = raw.substring(at + 1);
  // As Hono: a SHA-256 signature is 44 base64 characters ending with padding.
  if (signature.length !== 44 || !signature.endsWith('=')) return undefined;
  const given = Buffer.from(signature, 'base64');
  const expected = createHmac('sha256', secret).update(value).digest();
  return given.length === expected.length && timingSafeEqual(given, expected) ? value : false;
}
