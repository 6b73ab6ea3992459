// Who is calling and where from. Forwarded headers are believed only when the socket peer is
// one of the reverse proxies the operator listed (HOLDFAST_TRUSTED_PROXIES), since any client
// can send them. Forwarded addresses are read from the right, skipping trusted proxies, so
// the client address is the first one no trusted proxy vouches for.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { addressMatches, isValidAddress } from '../access/ip-match.ts';

export interface ProxySettings {
  trustedProxies: readonly string[];
  publicUrl?: string | undefined;
}

function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // app.request() in tests has no socket unless the test gives one
  }
}

function fromTrustedProxy(c: Context, settings: ProxySettings): boolean {
  return settings.trustedProxies.length > 0 && addressMatches(socketAddress(c), settings.trustedProxies);
}

export function clientIp(c: Context, settings: ProxySettings): string | undefined {
  const peer = socketAddress(c);
  if (!fromTrustedProxy(c, settings)) return peer;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i] as string;
    if (!isValidAddress(hop)) return peer; // a malformed chain: believe only the socket
    if (!addressMatches(hop, settings.trustedProxies)) return hop;
  }
  return forwarded[0] ?? peer;
}

/** The scheme+host the browser used, e.g. https://backup.example.com. */
export function requestOrigin(c: Context, settings: ProxySettings): string {
  if (settings.publicUrl) return new URL(settings.publicUrl).origin;
  const url = new URL(c.req.url);
  if (fromTrustedProxy(c, settings)) {
    const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
    const host = c.req.header('x-forwarded-host')?.split(',')[0]?.trim();
    if (proto === 'http' || proto === 'https') url.protocol = `${proto}:`;
    if (host) url.host = host;
  }
  return url.origin;
}

export function isHttps(c: Context, settings: ProxySettings): boolean {
  return requestOrigin(c, settings).startsWith('https:');
}

/** Browser routes get HTML; /api gets JSON. */
export function wantsJson(c: Context): boolean {
  return new URL(c.req.url).pathname.startsWith('/api/');
}
