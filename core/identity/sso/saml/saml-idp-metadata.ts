// Reads what a SAML service provider needs from an identity provider's metadata document: its
// entity ID (the Issuer its assertions must carry), where to send the AuthnRequest (the
// HTTP-Redirect SingleSignOnService) and the certificates it signs with. The XML comes from an
// administrator or the IdP's metadata URL, so it is parsed defensively: no DOCTYPE (no entity
// expansion), a size ceiling, and a clear message for each thing missing.
import { X509Certificate } from 'node:crypto';
import { MAX_METADATA_BYTES } from './saml-limits.ts';
import { childElements, descendantElements, parseXml, type XmlElement } from './saml-xml.ts';

export const METADATA_NS = 'urn:oasis:names:tc:SAML:2.0:metadata';
export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

// The largest metadata document read (an IdP's metadata is a few kB; aggregates are refused).
export { MAX_METADATA_BYTES };

/** What the service provider keeps of an identity provider. */
export interface SamlIdpSettings {
  /** The IdP's entity ID: the Issuer of its responses and assertions. */
  entityId: string;
  /** Where the browser is sent with the AuthnRequest (HTTP-Redirect binding). */
  ssoUrl: string;
  /** PEM certificates whose keys may sign assertions (several while the IdP rolls its key). */
  certificates: string[];
  /** Where LogoutRequests go (its HTTP-Redirect SingleLogoutService); absent: no single logout. */
  sloUrl?: string | null;
}

/** The metadata cannot be used; `message` says why in words an administrator can act on. */
export class SamlMetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SamlMetadataError';
  }
}

export interface EndpointRule {
  /** Lets IdP endpoints use plain http:// (tests and loopback IdPs only; the operator's choice). */
  allowInsecureEndpoints: boolean;
}

/** Parses XML that must not declare a DOCTYPE; throws `SamlMetadataError` with `what` in the message. */
export function parseUntrustedXml(xml: string, what: string): XmlElement {
  if (Buffer.byteLength(xml) > MAX_METADATA_BYTES) {
    throw new SamlMetadataError(`The ${what} is larger than ${MAX_METADATA_BYTES / 1024} KiB.`);
  }
  if (/<!DOCTYPE/i.test(xml)) throw new SamlMetadataError(`The ${what} declares a DOCTYPE, which is not accepted.`);
  const parsed = parseXml(xml);
  if ('problem' in parsed) throw new SamlMetadataError(`The ${what} is not well-formed XML: ${parsed.problem}`);
  return parsed.root;
}

/** Turns the base64 body of an X509Certificate element into a PEM certificate, checking it parses. */
export function certificateToPem(base64: string): string {
  const body = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw new SamlMetadataError('A signing certificate is not base64.');
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----\n`;
  try {
    new X509Certificate(pem);
  } catch {
    throw new SamlMetadataError('A signing certificate in the metadata is not a valid X.509 certificate.');
  }
  return pem;
}

/** Checks an IdP endpoint: an absolute https URL (http only when the operator allows it). */
export function checkIdpEndpoint(raw: string, rule: EndpointRule, what: string): string {
  if (!URL.canParse(raw)) throw new SamlMetadataError(`The ${what} is not a full URL.`);
  const url = new URL(raw);
  if (url.protocol !== 'https:' && !(rule.allowInsecureEndpoints && url.protocol === 'http:')) {
    throw new SamlMetadataError(`The ${what} must be an https:// URL (it is ${url.protocol}//…).`);
  }
  if (url.username || url.password) throw new SamlMetadataError(`The ${what} must not carry a user name or password.`);
  return url.toString();
}

function idpDescriptorOf(root: XmlElement): { entity: XmlElement; idp: XmlElement } {
  const entities =
    root.namespaceURI === METADATA_NS && root.localName === 'EntityDescriptor'
      ? [root]
      : root.namespaceURI === METADATA_NS && root.localName === 'EntitiesDescriptor'
        ? descendantElements(root, METADATA_NS, 'EntityDescriptor')
        : [];
  if (entities.length === 0) {
    throw new SamlMetadataError('This is not SAML 2.0 metadata: no md:EntityDescriptor was found.');
  }
  const idps = entities.flatMap((entity) =>
    childElements(entity, METADATA_NS, 'IDPSSODescriptor')
      .filter((idp) => (idp.getAttribute('protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL))
      .map((idp) => ({ entity, idp })),
  );
  if (idps.length === 0) {
    throw new SamlMetadataError('The metadata describes no SAML 2.0 identity provider (no IDPSSODescriptor).');
  }
  if (idps.length > 1) {
    throw new SamlMetadataError(
      `The metadata describes ${idps.length} identity providers; paste the metadata of the one to use.`,
    );
  }
  return idps[0] as { entity: XmlElement; idp: XmlElement };
}

/** Reads the IdP's entity ID, redirect SSO endpoint and signing certificates from its metadata. */
export function parseIdpMetadata(xml: string, rule: EndpointRule): SamlIdpSettings {
  const { entity, idp } = idpDescriptorOf(parseUntrustedXml(xml.trim(), 'metadata'));
  const entityId = entity.getAttribute('entityID')?.trim();
  if (!entityId) throw new SamlMetadataError('The metadata has no entityID.');

  const redirect = childElements(idp, METADATA_NS, 'SingleSignOnService').find(
    (s) => s.getAttribute('Binding') === REDIRECT_BINDING,
  );
  const location = redirect?.getAttribute('Location')?.trim();
  if (!location) {
    throw new SamlMetadataError(
      'The identity provider offers no SingleSignOnService with the HTTP-Redirect binding, which sign-in uses.',
    );
  }
  const ssoUrl = checkIdpEndpoint(location, rule, 'single sign-on URL in the metadata');

  // A KeyDescriptor without `use` serves both signing and encryption (SAML metadata §2.4.1.1).
  const keys = childElements(idp, METADATA_NS, 'KeyDescriptor').filter((k) => {
    const use = k.getAttribute('use');
    return !use || use === 'signing';
  });
  const certificates = [
    ...new Set(
      keys.flatMap((k) =>
        descendantElements(k, DSIG_NS, 'X509Certificate').map((c) => certificateToPem(c.textContent ?? '')),
      ),
    ),
  ];
  if (certificates.length === 0) {
    throw new SamlMetadataError('The metadata holds no signing certificate (KeyDescriptor with an X509Certificate).');
  }
  const logout = childElements(idp, METADATA_NS, 'SingleLogoutService').find(
    (s) => s.getAttribute('Binding') === REDIRECT_BINDING,
  );
  const logoutLocation = logout?.getAttribute('Location')?.trim();
  const sloUrl = logoutLocation ? checkIdpEndpoint(logoutLocation, rule, 'single logout URL in the metadata') : null;
  return { entityId, ssoUrl, certificates, sloUrl };
}
