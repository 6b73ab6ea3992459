// Who is calling and where from. Forwarded headers are believed only when the operator says
// a reverse proxy sits in front (HOLDFAST_TRUST_PROXY), since any client can send them; one proxy
// hop is assumed, so the client address is the last X-Forwarded-For entry.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

export function clientIp(c: Context, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    // The trusted proxy appends the address it saw last; entries before it came from the client.
    const forwarded = c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // app.request() in tests has no socket
  }
}

/** The scheme+host the browser used, e.g. https://backup.example.com. */
export function requestOrigin(c: Context, trustProxy: boolean, publicUrl?: string): string {
  if (publicUrl) return new URL(publicUrl).origin;
  const url = new URL(c.req.url);
  if (trustProxy) {
    const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
    const host = c.req.header('x-forwarded-host')?.split(',')[0]?.trim();
    if (proto) url.protocol = `${proto}:`;
    if (host) url.host = host;
  }
  return url.origin;
}

export function isHttps(c: Context, trustProxy: boolean, publicUrl?: string): boolean {
  return requestOrigin(c, trustProxy, publicUrl).startsWith('https:');
}

/** Browser routes get HTML; /api gets JSON. */
export function wantsJson(c: Context): boolean {
  return new URL(c.req.url).pathname.startsWith('/api/');
}
