// Completing a SAML sign-in: the Response the IdP posted to the Assertion Consumer Service is
// checked, and either the signed-in identity comes back or a refusal with its reason.
//
// What is checked, in this order (docs/SSO.md, "SAML"):
//  1. Shape: a base64 samlp:Response of at most MAX_RESPONSE_BYTES, no DOCTYPE, exactly one
//     saml:Assertion and it a direct child of the Response — an assertion anywhere else (a second
//     one, one moved into Extensions or an Advice) is an XML signature wrapping attempt.
//     An EncryptedAssertion counts as the assertion: it is decrypted with the SP's key (a
//     provider without one refuses it) and must then be signed itself, or the Response must be.
//  2. It answers the pending sign-in: InResponseTo is the AuthnRequest's ID (IdP-initiated,
//     unsolicited responses are refused), and the request is younger than SAML_REQUEST_TTL_MS.
//  3. Destination, when present, is our ACS URL; the Response's Issuer, when present, the IdP's.
//  4. Signature (node-saml over xml-crypto): the assertion must be covered by a valid signature
//     made with one of the IdP's certificates — its own enveloped signature, or the Response's
//     (which covers the whole response, the assertion included). Everything after this is read
//     only from the bytes the signature covered, never from the document as received.
//  5. Conditions: NotBefore / NotOnOrAfter of the assertion and of its bearer confirmation, with
//     SAML_CLOCK_SKEW_MS of tolerance; the audience is our entity ID.
//  6. On the signed assertion: its Issuer is the IdP's entity ID; a bearer SubjectConfirmation
//     whose Recipient is our ACS URL, with a NotOnOrAfter; a NameID.
//  7. Replay: the assertion's ID is claimed in the replay store until it expires; a second use
//     is refused.
import { type Profile, SamlStatusError } from '@node-saml/node-saml';
import type { SamlIdpSettings } from './saml-idp-metadata.ts';
import { MAX_RESPONSE_BYTES } from './saml-limits.ts';
import type { SamlReplayStore } from './saml-replay.ts';
import {
  NO_SP_KEY,
  SAML_CLOCK_SKEW_MS,
  SAML_REQUEST_TTL_MS,
  type SamlSpCredentials,
  type SamlSpEndpoints,
  samlClient,
} from './saml-service-provider.ts';
import { childElements, descendantElements, parseXml, type XmlElement } from './saml-xml.ts';

const PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

/** The identity an accepted response signs in. */
export interface SamlIdentity {
  /** The NameID: the user's identifier at the IdP (with the IdP's entity ID, the external identity). */
  subject: string;
  nameIdFormat: string | null;
  /** From the email attribute (email, mail, its OID or the WS-Fed claim), else an e-mail NameID. */
  email: string | null;
  /** From the groups attribute (groups, memberOf, or the WS-Fed group claims). */
  groups: string[];
  /** From displayName / name, else first and last name attributes. */
  displayName: string | null;
  /** The IdP session (AuthnStatement SessionIndex), for single logout. */
  sessionIndex: string | null;
  /** The IdP's entity ID. */
  issuer: string;
  assertionId: string;
}

export type SamlRefusalReason =
  | 'malformed'
  | 'encrypted'
  | 'wrapped'
  | 'unsigned'
  | 'bad-signature'
  | 'unsolicited'
  | 'wrong-request'
  | 'wrong-destination'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'wrong-recipient'
  | 'expired'
  | 'not-yet-valid'
  | 'no-subject'
  | 'idp-refused'
  | 'replayed'
  | 'invalid';

export type SamlOutcome =
  | { ok: true; identity: SamlIdentity }
  | { ok: false; reason: SamlRefusalReason; message: string };

/** The AuthnRequest a pending sign-in sent (saml-authn-request.ts). */
export interface SamlPendingRequest {
  requestId: string;
  issuedAt: string;
}

export interface SamlResponseInput {
  sp: SamlSpEndpoints;
  idp: SamlIdpSettings;
  /** The SAMLResponse form field as posted (base64). */
  samlResponse: string;
  /** The request of the pending sign-in the RelayState named; null when there is none. */
  request: SamlPendingRequest | null;
  replay: SamlReplayStore;
  now?: Date;
  /** The SP's key pair: decrypts an encrypted assertion (none: an encrypted assertion is refused). */
  own?: SamlSpCredentials;
}

const refuse = (reason: SamlRefusalReason, message: string): SamlOutcome => ({ ok: false, reason, message });

const EMAIL_ATTRIBUTES = [
  'email',
  'mail',
  'emailaddress',
  'urn:oid:0.9.2342.19200300.100.1.3',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
];
const NAME_ATTRIBUTES = ['displayname', 'name', 'http://schemas.microsoft.com/identity/claims/displayname'];
const FIRST_NAME_ATTRIBUTES = [
  'firstname',
  'givenname',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
];
const LAST_NAME_ATTRIBUTES = [
  'lastname',
  'surname',
  'sn',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
];
const GROUP_ATTRIBUTES = [
  'groups',
  'group',
  'memberof',
  'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
  'http://schemas.xmlsoap.org/claims/group',
];

// node-saml's error messages, turned into reasons (its errors carry no codes).
const LIBRARY_REFUSALS: [RegExp, SamlRefusalReason, string][] = [
  [/audience/i, 'wrong-audience', 'The assertion is meant for another service provider (its Audience is not ours).'],
  [/not yet valid/i, 'not-yet-valid', 'The assertion is not valid yet (NotBefore is in the future).'],
  [
    /expired|No valid subject confirmation/i,
    'expired',
    'The assertion has expired (NotOnOrAfter has passed), beyond the clock skew allowed.',
  ],
  [/InResponseTo/i, 'wrong-request', 'The response does not answer the sign-in started here (InResponseTo).'],
  [
    /multiple assertions|more than one element|does not refer to it's parent|Too many signatures|too many transforms|Cannot obtain assertion/i,
    'wrapped',
    'The signature does not cover the assertion it sits beside: an XML signature wrapping attempt.',
  ],
  [
    /signature from encrypted assertion/i,
    'bad-signature',
    'The decrypted assertion carries no signature that verifies with the identity provider’s certificate, and the response is not signed either.',
  ],
  [
    /No decryption key|EncryptedAssertion content|decrypt|oaep|rsa routines/i,
    'encrypted',
    'The encrypted assertion cannot be decrypted with this provider’s key: it was encrypted to another certificate.',
  ],
  [/signature/i, 'bad-signature', 'The signature does not verify with the identity provider’s certificate.'],
];

function decode(samlResponse: string): string | null {
  const text = samlResponse.replace(/\s+/g, '');
  if (!text || text.length > MAX_RESPONSE_BYTES || !/^[A-Za-z0-9+/]+=*$/.test(text)) return null;
  return Buffer.from(text, 'base64').toString('utf8');
}

function hasSignatureChild(el: XmlElement): boolean {
  return childElements(el, DSIG_NS, 'Signature').length > 0;
}

function text(el: XmlElement | undefined): string | null {
  const value = el?.textContent?.trim();
  return value ? value : null;
}

function statusOf(response: XmlElement): { code: string | null; message: string | null } {
  const status = childElements(response, PROTOCOL_NS, 'Status')[0];
  const code = status ? childElements(status, PROTOCOL_NS, 'StatusCode')[0] : undefined;
  const inner = code ? childElements(code, PROTOCOL_NS, 'StatusCode')[0] : undefined;
  const message = status ? text(childElements(status, PROTOCOL_NS, 'StatusMessage')[0]) : null;
  const last = (uri: string | null | undefined) => uri?.split(':').pop() ?? null;
  return { code: last(inner?.getAttribute('Value')) ?? last(code?.getAttribute('Value')), message };
}

/** Checks of the received document that need no signature (steps 1–3 above). */
function checkEnvelope(input: SamlResponseInput, xml: string): SamlOutcome | { response: XmlElement } {
  if (/<!DOCTYPE/i.test(xml)) return refuse('malformed', 'The response declares a DOCTYPE, which is not accepted.');
  const parsed = parseXml(xml);
  if ('problem' in parsed) return refuse('malformed', `The response is not well-formed XML: ${parsed.problem}`);
  const response = parsed.root;
  if (response.namespaceURI !== PROTOCOL_NS || response.localName !== 'Response') {
    return refuse('malformed', 'This is not a SAML 2.0 Response.');
  }
  const encrypted = descendantElements(response, ASSERTION_NS, 'EncryptedAssertion');
  const encryptedInPlace = childElements(response, ASSERTION_NS, 'EncryptedAssertion');
  if (encrypted.length > 0 && !input.own?.key) {
    return refuse(
      'encrypted',
      'The assertion is encrypted, but this provider has no key to decrypt it: save the provider again to make one, or turn assertion encryption off at the identity provider.',
    );
  }
  const everywhere = descendantElements(response, ASSERTION_NS, 'Assertion');
  const inPlace = childElements(response, ASSERTION_NS, 'Assertion');
  const total = everywhere.length + encrypted.length;
  if (total > 1 || total !== inPlace.length + encryptedInPlace.length) {
    return refuse(
      'wrapped',
      'The response holds more than one assertion, or an assertion outside its place: an XML signature wrapping attempt.',
    );
  }
  const status = statusOf(response);
  if (status.code !== 'Success') {
    return refuse(
      'idp-refused',
      `The identity provider did not sign the user in (${status.code ?? 'no status'}${status.message ? `: ${status.message}` : ''}).`,
    );
  }
  const assertion = inPlace[0];
  if (!assertion && encryptedInPlace.length === 0) return refuse('malformed', 'The response carries no assertion.');
  // An encrypted assertion's own signature is inside it: node-saml checks it once decrypted.
  if (assertion && !hasSignatureChild(response) && !hasSignatureChild(assertion)) {
    return refuse(
      'unsigned',
      'Neither the assertion nor the response is signed; the identity provider must sign the assertion.',
    );
  }

  const inResponseTo = response.getAttribute('InResponseTo');
  if (!input.request || !inResponseTo) {
    return refuse(
      'unsolicited',
      'The response does not answer a sign-in started here (IdP-initiated sign-in is not accepted): start from the sign-in page.',
    );
  }
  if (inResponseTo !== input.request.requestId) {
    return refuse('wrong-request', 'The response answers another sign-in request (InResponseTo).');
  }
  const now = (input.now ?? new Date()).getTime();
  if (now - Date.parse(input.request.issuedAt) > SAML_REQUEST_TTL_MS) {
    return refuse('expired', 'The sign-in took too long at the identity provider; start again.');
  }
  const destination = response.getAttribute('Destination');
  if (destination && destination !== input.sp.acsUrl) {
    return refuse('wrong-destination', `The response is addressed to ${destination}, not to this service provider.`);
  }
  const issuer = text(childElements(response, ASSERTION_NS, 'Issuer')[0]);
  if (issuer && issuer !== input.idp.entityId) {
    return refuse('wrong-issuer', `The response comes from ${issuer}, not from the configured identity provider.`);
  }
  return { response };
}

function attributeValues(profile: Profile, names: string[]): string[] {
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  const values: string[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    if (!names.includes(name.toLowerCase())) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && v.trim()) values.push(v.trim());
    }
  }
  return values;
}

/** The bearer confirmations' latest NotOnOrAfter, when one is addressed to our ACS URL. */
function bearerExpiry(assertion: XmlElement, acsUrl: string): number | null {
  const subject = childElements(assertion, ASSERTION_NS, 'Subject')[0];
  if (!subject) return null;
  let latest: number | null = null;
  for (const confirmation of childElements(subject, ASSERTION_NS, 'SubjectConfirmation')) {
    if (confirmation.getAttribute('Method') !== BEARER) continue;
    for (const data of childElements(confirmation, ASSERTION_NS, 'SubjectConfirmationData')) {
      const until = Date.parse(data.getAttribute('NotOnOrAfter') ?? '');
      if (data.getAttribute('Recipient') !== acsUrl || Number.isNaN(until)) continue;
      latest = Math.max(latest ?? until, until);
    }
  }
  return latest;
}

/** Checks of the signed assertion node-saml does not make (step 6), and what it yields. */
function readSignedAssertion(
  input: SamlResponseInput,
  profile: Profile,
): SamlOutcome | { identity: SamlIdentity; expiresAt: number } {
  const parsed = parseXml(profile.getAssertionXml?.() ?? '');
  if ('problem' in parsed) return refuse('malformed', 'The signed assertion cannot be read.');
  const assertion = parsed.root;
  const issuer = text(childElements(assertion, ASSERTION_NS, 'Issuer')[0]);
  if (issuer !== input.idp.entityId) {
    return refuse(
      'wrong-issuer',
      `The assertion was issued by ${issuer ?? 'nobody'}, not by the configured identity provider.`,
    );
  }
  const assertionId = assertion.getAttribute('ID');
  if (!assertionId) return refuse('malformed', 'The assertion has no ID.');
  const bearerUntil = bearerExpiry(assertion, input.sp.acsUrl);
  if (bearerUntil === null) {
    return refuse(
      'wrong-recipient',
      'The assertion has no bearer confirmation for this service provider’s ACS URL (Recipient), with a NotOnOrAfter.',
    );
  }
  const subject = profile.nameID?.trim();
  if (!subject) return refuse('no-subject', 'The assertion names no subject (NameID).');
  const nameIdFormat = profile.nameIDFormat ?? null;
  const conditions = childElements(assertion, ASSERTION_NS, 'Conditions')[0];
  const conditionsUntil = Date.parse(conditions?.getAttribute('NotOnOrAfter') ?? '');
  const expiresAt = Math.max(bearerUntil, Number.isNaN(conditionsUntil) ? 0 : conditionsUntil) + SAML_CLOCK_SKEW_MS;
  const email =
    attributeValues(profile, EMAIL_ATTRIBUTES)[0] ??
    (nameIdFormat === EMAIL_FORMAT && subject.includes('@') ? subject : null);
  const fullName = [FIRST_NAME_ATTRIBUTES, LAST_NAME_ATTRIBUTES]
    .map((names) => attributeValues(profile, names)[0])
    .filter(Boolean)
    .join(' ');
  const displayName = (attributeValues(profile, NAME_ATTRIBUTES)[0] ?? fullName).slice(0, 200) || null;
  return {
    identity: {
      subject,
      nameIdFormat,
      email: email ? email.toLowerCase() : null,
      groups: [...new Set(attributeValues(profile, GROUP_ATTRIBUTES))].slice(0, 500),
      displayName,
      sessionIndex: profile.sessionIndex ?? null,
      issuer,
      assertionId,
    },
    expiresAt,
  };
}

/** Checks a posted SAMLResponse against the pending sign-in; never throws for a bad response. */
export async function validateSamlResponse(input: SamlResponseInput): Promise<SamlOutcome> {
  const xml = decode(input.samlResponse);
  if (xml === null) return refuse('malformed', 'The SAMLResponse field is empty, too large or not base64.');
  const envelope = checkEnvelope(input, xml);
  if ('ok' in envelope) return envelope;
  const request = input.request as SamlPendingRequest;

  let profile: Profile | null;
  try {
    const client = samlClient(
      input.sp,
      input.idp,
      {
        // Only the pending sign-in's own request is known; node-saml asks for it by InResponseTo.
        getAsync: async (key: string) => (key === request.requestId ? request.issuedAt : null),
        saveAsync: async () => null,
        removeAsync: async () => null,
      },
      input.own ?? NO_SP_KEY,
    );
    ({ profile } = await client.validatePostResponseAsync({ SAMLResponse: input.samlResponse.replace(/\s+/g, '') }));
  } catch (err) {
    if (err instanceof SamlStatusError) return refuse('idp-refused', err.message);
    const message = err instanceof Error ? err.message : String(err);
    const known = LIBRARY_REFUSALS.find(([pattern]) => pattern.test(message));
    return known ? refuse(known[1], known[2]) : refuse('invalid', `The response was refused: ${message}`);
  }
  if (!profile) return refuse('malformed', 'The response carries no assertion.');

  const read = readSignedAssertion(input, profile);
  if ('ok' in read) return read;
  const now = input.now ?? new Date();
  const first = await input.replay.claim(
    read.identity.issuer,
    read.identity.assertionId,
    new Date(read.expiresAt),
    now,
  );
  if (!first) return refuse('replayed', 'This assertion was already used to sign in: a replay.');
  return { ok: true, identity: read.identity };
}
