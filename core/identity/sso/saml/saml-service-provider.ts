// The appliance as a SAML 2.0 service provider for one configured identity provider: the entity
// ID and Assertion Consumer Service URL an administrator copies into the IdP, the SP metadata
// document, and the node-saml client every SAML step is built on.
//
// Library: @node-saml/node-saml (the SAML core of passport-saml). It verifies XML signatures with
// xml-crypto and hands back only the bytes the signature covered, refuses responses with more
// than one assertion, and checks audience, time conditions and InResponseTo. What it does not
// check — the Response's Destination, the bearer confirmation's Recipient, the assertion's Issuer,
// replay — saml-response.ts adds.
import { type CacheProvider, generateServiceProviderMetadata, SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import type { SamlIdpSettings } from './saml-idp-metadata.ts';
import type { SamlSpKey } from './saml-sp-key.ts';

/** How far the IdP's clock may be from ours when NotBefore / NotOnOrAfter are checked. */
export const SAML_CLOCK_SKEW_MS = 2 * 60_000;
/** How long a sign-in may wait at the IdP: an AuthnRequest older than this is not answered. */
export const SAML_REQUEST_TTL_MS = 10 * 60_000;

export interface SamlSpEndpoints {
  /** The SP's entity ID (Okta: "Audience URI"); also where its metadata is served. */
  entityId: string;
  /** Where the IdP posts its response (Okta: "Single sign-on URL"). */
  acsUrl: string;
  /** Where the IdP sends LogoutRequests and LogoutResponses (single logout). */
  sloUrl: string;
}

/** What the SP holds of its own: its key pair (none for a provider saved before keys were made). */
export interface SamlSpCredentials {
  key: SamlSpKey | null;
  /** Sign AuthnRequests and LogoutRequests with the key (the provider's "Sign authentication requests"). */
  signRequests: boolean;
}

export const NO_SP_KEY: SamlSpCredentials = { key: null, signRequests: false };

/**
 * The SP endpoints of one identity provider, under the appliance's public URL: the same URLs as
 * the flow's context (flow.ts `contextFor`: the metadata route and the callback route).
 */
export function samlSpEndpoints(publicUrl: string, providerId: string): SamlSpEndpoints {
  const base = publicUrl.replace(/\/+$/, '');
  const id = encodeURIComponent(providerId);
  return {
    entityId: `${base}/sso/metadata/${id}`,
    acsUrl: `${base}/sso/callback/${id}`,
    sloUrl: `${base}/sso/logout/${id}`,
  };
}

/**
 * The SP metadata to hand to the IdP: entity ID, the HTTP-POST ACS and single logout endpoints,
 * WantAssertionsSigned; with the SP's certificate as its encryption key (an IdP may encrypt the
 * assertion to it) and, when requests are signed, as its signing key (AuthnRequestsSigned).
 */
export function samlSpMetadata(sp: SamlSpEndpoints, own: SamlSpCredentials = NO_SP_KEY): string {
  const key = own.key;
  return generateServiceProviderMetadata({
    issuer: sp.entityId,
    callbackUrl: sp.acsUrl,
    logoutCallbackUrl: sp.sloUrl,
    identifierFormat: null,
    wantAssertionsSigned: true,
    ...(key ? { decryptionPvk: key.privateKey, decryptionCert: key.certificate } : {}),
    ...(key && own.signRequests ? { privateKey: key.privateKey, publicCerts: key.certificate } : {}),
  });
}

/**
 * A node-saml client for one SP/IdP pair. `requests` answers InResponseTo: it knows only the
 * AuthnRequest of the pending sign-in being completed (or records the one being created).
 */
export function samlClient(
  sp: SamlSpEndpoints,
  idp: SamlIdpSettings,
  requests: CacheProvider,
  own: SamlSpCredentials = NO_SP_KEY,
): SAML {
  return new SAML({
    issuer: sp.entityId,
    callbackUrl: sp.acsUrl,
    audience: sp.entityId,
    entryPoint: idp.ssoUrl,
    idpCert: idp.certificates,
    // The assertion must be covered by a valid signature: its own, or the Response's (which covers
    // every byte of the response, the assertion included; node-saml then reads the assertion out of
    // the signed bytes only). A response signed by neither is refused (saml-response.ts).
    wantAssertionsSigned: false,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: SAML_CLOCK_SKEW_MS,
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: SAML_REQUEST_TTL_MS,
    cacheProvider: requests,
    // Let the IdP pick the NameID format; ask for no particular authentication context (asking for
    // "password" would refuse users who signed in with a passkey or a second factor at Entra ID).
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    // Encrypted assertions are decrypted with the SP's key; requests are signed with it (RSA-SHA256)
    // when the administrator turned signing on.
    ...(own.key ? { decryptionPvk: own.key.privateKey } : {}),
    ...(own.key && own.signRequests ? { privateKey: own.key.privateKey, signatureAlgorithm: 'sha256' as const } : {}),
    ...(idp.sloUrl ? { logoutUrl: idp.sloUrl } : {}),
    logoutCallbackUrl: sp.sloUrl,
  });
}
