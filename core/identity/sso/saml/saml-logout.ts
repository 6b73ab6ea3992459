// SAML Single Logout (SAML profiles §4.4), both directions, with node-saml:
//  - SP-initiated: signing out here sends the browser to the IdP's SingleLogoutService (its
//    HTTP-Redirect endpoint from the metadata) with a LogoutRequest naming the user's NameID,
//    signed when the provider signs its requests. The local session has ended before the
//    redirect; the IdP's LogoutResponse that comes back only lands the browser on the login page.
//  - IdP-initiated: the IdP sends a LogoutRequest to our single logout URL (HTTP-Redirect or
//    HTTP-POST binding). It must be signed by one of the IdP's certificates (an unsigned one is
//    refused: anyone could otherwise end someone's sessions), come from the IdP's entity ID, and
//    be inside its NotBefore/NotOnOrAfter. The caller ends the NameID's sessions through this
//    provider and the browser goes back to the IdP with a LogoutResponse.
import type { SamlIdpSettings } from './saml-idp-metadata.ts';
import { type SamlSpCredentials, type SamlSpEndpoints, samlClient } from './saml-service-provider.ts';

const UNSPECIFIED_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';

/** A LogoutRequest or LogoutResponse as it arrived at the single logout URL. */
export type SamlLogoutMessage =
  | { binding: 'redirect'; query: Record<string, string>; rawQuery: string }
  | { binding: 'post'; form: Record<string, string> };

export type SamlLogoutOutcome =
  | { kind: 'request'; requestId: string; nameId: string; sessionIndex: string | null; relayState: string }
  | { kind: 'response' }
  | { kind: 'refused'; reason: string };

/** Requests need no memory of AuthnRequests: node-saml's cache is not consulted for logout. */
const NO_CACHE = {
  getAsync: async () => null,
  saveAsync: async () => null,
  removeAsync: async () => null,
};

function fieldsOf(message: SamlLogoutMessage): Record<string, string> {
  return message.binding === 'redirect' ? message.query : message.form;
}

/** Reads a message posted or redirected to the single logout URL; never throws for a bad one. */
export async function readSamlLogoutMessage(
  sp: SamlSpEndpoints,
  idp: SamlIdpSettings,
  own: SamlSpCredentials,
  message: SamlLogoutMessage,
): Promise<SamlLogoutOutcome> {
  const fields = fieldsOf(message);
  // The IdP answering our LogoutRequest: the session here has ended already.
  if (fields.SAMLResponse && !fields.SAMLRequest) return { kind: 'response' };
  if (!fields.SAMLRequest) return { kind: 'refused', reason: 'No SAML logout request was sent.' };
  const client = samlClient(sp, idp, NO_CACHE, own);
  let profile: { ID?: string; issuer?: string; nameID?: string; sessionIndex?: string } | null;
  try {
    if (message.binding === 'redirect') {
      // node-saml checks a redirect signature only when one is present: require it here.
      if (!fields.Signature || !fields.SigAlg) {
        return { kind: 'refused', reason: 'The logout request is not signed; the identity provider must sign it.' };
      }
      ({ profile } = await client.validateRedirectAsync(fields, message.rawQuery));
    } else {
      ({ profile } = await client.validatePostRequestAsync({ SAMLRequest: fields.SAMLRequest }));
    }
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (/signature/i.test(text)) {
      return {
        kind: 'refused',
        reason:
          'The logout request is not signed, or its signature does not verify with the identity provider’s certificate.',
      };
    }
    if (/expired|not yet valid/i.test(text)) {
      return { kind: 'refused', reason: 'The logout request has expired or is not valid yet.' };
    }
    return { kind: 'refused', reason: `The logout request was refused: ${text}` };
  }
  if (!profile?.ID || !profile.nameID) return { kind: 'refused', reason: 'The logout request names no subject.' };
  if (profile.issuer !== idp.entityId) {
    return {
      kind: 'refused',
      reason: `The logout request comes from ${profile.issuer ?? 'nobody'}, not from the configured identity provider.`,
    };
  }
  return {
    kind: 'request',
    requestId: profile.ID,
    nameId: profile.nameID,
    sessionIndex: profile.sessionIndex ?? null,
    relayState: fields.RelayState ?? '',
  };
}

/** The IdP's single logout URL with our LogoutResponse (Success), or null when it has none. */
export async function samlLogoutResponseUrl(
  sp: SamlSpEndpoints,
  idp: SamlIdpSettings,
  own: SamlSpCredentials,
  requestId: string,
  relayState: string,
): Promise<string | null> {
  if (!idp.sloUrl) return null;
  const client = samlClient(sp, idp, NO_CACHE, own);
  return client.getLogoutResponseUrlAsync({ ID: requestId } as never, relayState, {}, true);
}

/** The IdP's single logout URL with a LogoutRequest for `nameId`, or null when it has none. */
export async function samlLogoutRequestUrl(
  sp: SamlSpEndpoints,
  idp: SamlIdpSettings,
  own: SamlSpCredentials,
  nameId: string,
): Promise<string | null> {
  if (!idp.sloUrl) return null;
  const client = samlClient(sp, idp, NO_CACHE, own);
  return client.getLogoutUrlAsync({ issuer: idp.entityId, nameID: nameId, nameIDFormat: UNSPECIFIED_FORMAT }, '', {});
}
