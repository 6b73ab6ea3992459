// Where links in mail point (invitations, email confirmations, password resets). Never at a
// request's Host or forwarded headers, which anyone can set (a reset link sent to
// attacker.example would hand over the account): HOLDFAST_PUBLIC_URL when set, otherwise the
// public address confirmed on the setup page, kept as a system fact. Without either, no link is
// mailed and the operator is told to set HOLDFAST_PUBLIC_URL.
import type { EntityManager } from '@mikro-orm/core';
import { ConflictError } from '../errors.ts';
import { SystemFact } from './entities.ts';

export const PUBLIC_URL_FACT = 'public_url';

export const PUBLIC_URL_HINT = 'Enter the address users reach Holdfast at, like https://backup.example.com.';

export class PublicUrlMissingError extends ConflictError {
  constructor() {
    super(
      'public_url_required',
      'Holdfast does not know the address users reach it at, so it cannot mail links. Set HOLDFAST_PUBLIC_URL (see docs/OPERATIONS.md) and restart.',
    );
    this.name = 'PublicUrlMissingError';
  }
}

/** The origin (scheme, host, port) of an http(s) URL, or undefined for anything else. */
export function publicOriginOf(text: string): string | undefined {
  try {
    const url = new URL(text.trim());
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/** The address confirmed at setup, when there is one. */
export async function pinnedPublicOrigin(em: EntityManager): Promise<string | undefined> {
  return (await em.fork().findOne(SystemFact, { key: PUBLIC_URL_FACT }))?.value;
}

/** The origin links in mail start with; throws PublicUrlMissingError when none is known. */
export async function mailLinkOrigin(em: EntityManager, configuredUrl: string | undefined): Promise<string> {
  const origin = configuredUrl ? publicOriginOf(configuredUrl) : await pinnedPublicOrigin(em);
  if (!origin) throw new PublicUrlMissingError();
  return origin;
}
