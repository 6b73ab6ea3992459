// Starting a SAML sign-in: the AuthnRequest, sent with the HTTP-Redirect binding (deflated,
// base64, in the query of the IdP's single sign-on URL). Its ID and IssueInstant are what the
// pending sign-in keeps: the response must answer exactly this request (InResponseTo) within
// SAML_REQUEST_TTL_MS. RelayState carries the pending sign-in's opaque handle, so the response
// comes back to the sign-in (and browser) that started it.
import { randomBytes } from 'node:crypto';
import type { CacheItem } from '@node-saml/node-saml';
import type { SamlIdpSettings } from './saml-idp-metadata.ts';
import { NO_SP_KEY, type SamlSpCredentials, type SamlSpEndpoints, samlClient } from './saml-service-provider.ts';

export interface SamlAuthnRequest {
  /** Where to redirect the browser. */
  url: string;
  /** The AuthnRequest's ID: the response's InResponseTo must be this. */
  requestId: string;
  /** When it was issued (ISO 8601, as in the request). */
  issuedAt: string;
}

/** A fresh opaque RelayState (256 bits), the handle of one pending sign-in. */
export function newRelayState(): string {
  return randomBytes(32).toString('base64url');
}

export async function buildSamlAuthnRequest(
  sp: SamlSpEndpoints,
  idp: SamlIdpSettings,
  relayState: string,
  own: SamlSpCredentials = NO_SP_KEY,
): Promise<SamlAuthnRequest> {
  let recorded: { requestId: string; issuedAt: string } | undefined;
  const client = samlClient(
    sp,
    idp,
    {
      saveAsync: async (key: string, value: string): Promise<CacheItem> => {
        recorded = { requestId: key, issuedAt: value };
        return { value, createdAt: Date.now() };
      },
      getAsync: async () => null,
      removeAsync: async () => null,
    },
    own,
  );
  const url = await client.getAuthorizeUrlAsync(relayState, undefined, {});
  if (!recorded) throw new Error('node-saml created an AuthnRequest without an ID');
  return { url, ...recorded };
}
