// A real SAML 2.0 identity provider on loopback for the SSO tests: samlify acting as the IdP, with
// a freshly generated RSA key and self-signed certificate (selfsigned). It serves its metadata
// where Okta serves an app's (/app/{app id}/sso/saml/metadata, so an "App Embed Link" of it
// resolves), parses the appliance's AuthnRequest (schema-validated by xmllint compiled to wasm)
// and answers it with a Response samlify builds and signs. The tests that need a bad response
// take the XML this IdP produced and change it, or ask the IdP for it with other settings.
//
// samlify is loaded with `require`: its type files pull the browser DOM library into the
// program (through @xmldom/xmldom), which changes the types of Node's fetch and streams.
import { createSign, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { generate } from 'selfsigned';

interface SamlifyEntity {
  getMetadata(): string;
}
interface SamlifyIdp extends SamlifyEntity {
  createLogoutRequest(
    sp: SamlifyEntity,
    binding: 'post',
    user: { logoutNameID: string; sessionIndex?: string },
    relayState: string,
  ): { context: string; entityEndpoint: string; relayState: string };
  parseLogoutRequest(
    sp: SamlifyEntity,
    binding: 'redirect',
    req: { query: Record<string, string>; octetString: string },
  ): Promise<{ extract: { nameID: string; issuer: string; request: { id: string } } }>;
  parseLoginRequest(
    sp: SamlifyEntity,
    binding: 'redirect',
    req: { query: Record<string, string>; octetString?: string },
  ): Promise<{ extract: { request: { id: string }; issuer: string } }>;
  createLoginResponse(
    sp: SamlifyEntity,
    requestInfo: { extract: { request: { id: string } } },
    binding: 'post',
    user: object,
    options: { relayState?: string; customTagReplacement: (template: string) => { id: string; context: string } },
  ): Promise<{ context: string; entityEndpoint: string; relayState?: string }>;
}
interface Samlify {
  IdentityProvider(settings: Record<string, unknown>): SamlifyIdp;
  ServiceProvider(settings: Record<string, unknown>): SamlifyEntity;
  SamlLib: { replaceTagsByValue(template: string, values: Record<string, string>): string };
  setSchemaValidator(validator: { validate(xml: string): Promise<unknown> }): void;
}

const require = createRequire(import.meta.url);
const samlify = require('samlify') as Samlify;
samlify.setSchemaValidator(require('@authenio/samlify-xmllint-wasm') as { validate(xml: string): Promise<unknown> });

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
/** An Okta-shaped app id, so the App Embed Link of this IdP reads like Okta's. */
export const TEST_APP_ID = '0oa1testapp2SAML3x4y5';

export interface SamlTestUser {
  email: string;
  /** NameID; the e-mail when omitted. */
  nameId?: string;
  groups?: string[];
  firstName?: string;
  lastName?: string;
  sessionIndex?: string;
}

export interface ResponseOptions {
  /** The SP the response is made for (by default the one whose AuthnRequest is answered). */
  spMetadata?: string;
  /** Sign only the Response, not the assertion (the SP's metadata is read as WantAssertionsSigned=false). */
  signResponseOnly?: boolean;
  /** Shifts the IdP's clock: its IssueInstant, NotBefore and NotOnOrAfter (negative: in the past). */
  clockOffsetMs?: number;
  /** Answer this request ID instead of the one in the AuthnRequest. */
  inResponseTo?: string;
  /** The bearer confirmation's Recipient (by default the SP's ACS URL, like the Destination). */
  recipient?: string;
  /** Encrypt the (signed) assertion to the SP metadata's encryption certificate, as IdPs offer. */
  encrypt?: boolean;
  /** Accept only an AuthnRequest signed with the SP metadata's signing certificate (WantAuthnRequestsSigned). */
  requireSignedRequest?: boolean;
}

export interface IdpAnswer {
  /** The base64 SAMLResponse form field. */
  samlResponse: string;
  relayState: string;
  acsUrl: string;
}

export interface SamlTestIdp {
  origin: string;
  entityId: string;
  ssoUrl: string;
  metadataUrl: string;
  oktaEmbedLink: string;
  /** The same link by 127.0.0.1, for a server that cannot resolve `hostName` (browser tests). */
  loopbackEmbedLink: string;
  metadataXml: string;
  certificate: string;
  /** The AuthnRequests received by /sso (their IDs), oldest first. */
  requests: string[];
  /** Answers the AuthnRequest in `redirectUrl` as `user`, as the IdP's sign-in page would. */
  answer(redirectUrl: string, user: SamlTestUser, options?: ResponseOptions): Promise<IdpAnswer>;
  /** Registers the SP (its metadata) whose AuthnRequests this IdP answers. */
  setServiceProvider(metadata: string): void;
  /** Who /sso signs in (browser tests); null: it answers 403. */
  signInAs: SamlTestUser | null;
  /** A LogoutRequest for `nameId` to the SP's single logout URL (HTTP-POST binding), signed unless told. */
  logoutRequest(
    nameId: string,
    options?: { unsigned?: boolean },
  ): { samlRequest: string; relayState: string; url: string };
  /** The same with the HTTP-Redirect binding: the URL at `sloUrl`, signed over its query (RSA-SHA256). */
  logoutRedirect(nameId: string, sloUrl: string): string;
  /** Reads the SP's LogoutRequest in `redirectUrl`, verifying its redirect-binding signature. */
  readLogoutRequest(redirectUrl: string): Promise<{ nameId: string; issuer: string }>;
  close(): Promise<void>;
}

export async function generateSigningKey(): Promise<{ privateKey: string; certificate: string }> {
  const pems = await generate([{ name: 'commonName', value: 'Holdfast test IdP' }], {
    keySize: 2048,
    algorithm: 'sha256',
  });
  return { privateKey: pems.private, certificate: pems.cert };
}

/** The signed octets of a redirect binding, as sent (still URL-encoded), in the binding's order. */
function octetsOf(redirectUrl: string): string {
  const raw = new URL(redirectUrl).search.slice(1).split('&');
  return ['SAMLRequest', 'RelayState', 'SigAlg']
    .map((name) => raw.find((part) => part.startsWith(`${name}=`)))
    .filter(Boolean)
    .join('&');
}

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function attributeStatement(user: SamlTestUser): string {
  const attribute = (name: string, values: string[]) =>
    `<saml:Attribute Name="${name}" NameFormat="${BASIC}">${values
      .map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`)
      .join('')}</saml:Attribute>`;
  const groups = user.groups?.length ? attribute('groups', user.groups) : '';
  // Okta's default attribute names for the user's name.
  const names = [
    user.firstName ? attribute('firstName', [user.firstName]) : '',
    user.lastName ? attribute('lastName', [user.lastName]) : '',
  ].join('');
  return `<saml:AttributeStatement>${attribute('email', [user.email])}${names}${groups}</saml:AttributeStatement>`;
}

function authnStatement(at: string, sessionIndex: string): string {
  return `<saml:AuthnStatement AuthnInstant="${at}" SessionIndex="${escapeXml(sessionIndex)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
}

/**
 * Starts the IdP; `key` lets two IdPs share an entity ID but not a key (a forged signature).
 * `hostName`: the name its URLs use (it listens on 127.0.0.1) — another site than the appliance's
 * for browser tests, with Chromium's host resolver mapping the name to loopback.
 */
export async function startSamlIdp(
  spMetadata: string,
  key?: { privateKey: string; certificate: string },
  entityIdOverride?: string,
  hostName = '127.0.0.1',
): Promise<SamlTestIdp> {
  const { privateKey, certificate } = key ?? (await generateSigningKey());
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://${hostName}:${(server.address() as AddressInfo).port}`;
  const entityId = entityIdOverride ?? `http://www.okta.com/${TEST_APP_ID}`;
  const ssoUrl = `${origin}/app/holdfast_saml/${TEST_APP_ID}/sso/saml`;
  const metadataUrl = `${origin}/app/${TEST_APP_ID}/sso/saml/metadata`;
  const idpSettings = {
    entityID: entityId,
    privateKey,
    signingCert: certificate,
    nameIDFormat: [EMAIL_FORMAT],
    singleSignOnService: [{ Binding: REDIRECT, Location: ssoUrl }],
    singleLogoutService: [{ Binding: REDIRECT, Location: `${origin}/app/holdfast_saml/${TEST_APP_ID}/slo/saml` }],
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  };
  const idp = samlify.IdentityProvider(idpSettings);
  // The same IdP with assertion encryption turned on (samlify: AES-256-CBC, key by RSA-OAEP).
  const encryptingIdp = samlify.IdentityProvider({ ...idpSettings, isAssertionEncrypted: true });
  // The same IdP verifying the signature of the redirect binding (SigAlg, Signature) of each request.
  const strictIdp = samlify.IdentityProvider({
    ...idpSettings,
    wantAuthnRequestsSigned: true,
    wantLogoutRequestSigned: true,
  });
  const spOf = (metadata: string, signResponseOnly = false) =>
    samlify.ServiceProvider(
      signResponseOnly
        ? { metadata: metadata.replace(/WantAssertionsSigned="true"/, 'WantAssertionsSigned="false"') }
        : { metadata },
    );
  let currentSpMetadata = spMetadata;
  let defaultSp = spOf(spMetadata);

  const answer: SamlTestIdp['answer'] = async (redirectUrl, user, options = {}) => {
    const query = Object.fromEntries(new URL(redirectUrl).searchParams);
    const octetString = octetsOf(redirectUrl);
    const request = options.requireSignedRequest
      ? await strictIdp.parseLoginRequest(spOf(options.spMetadata ?? currentSpMetadata), 'redirect', {
          query,
          octetString,
        })
      : await idp.parseLoginRequest(defaultSp, 'redirect', { query });
    const sp =
      options.spMetadata || options.signResponseOnly
        ? spOf(options.spMetadata ?? currentSpMetadata, options.signResponseOnly)
        : defaultSp;
    const spDoc = (options.spMetadata ?? currentSpMetadata).replace(/\s+/g, ' ');
    const acsUrl = /AssertionConsumerService[^>]*Location="([^"]+)"/.exec(spDoc)?.[1] ?? '';
    const audience = /entityID="([^"]+)"/.exec(spDoc)?.[1] ?? '';
    const now = Date.now() + (options.clockOffsetMs ?? 0);
    const at = new Date(now).toISOString();
    const until = new Date(now + 5 * 60_000).toISOString();
    const inResponseTo = options.inResponseTo ?? request.extract.request.id;
    const id = `_${randomUUID()}`;
    const made = await (options.encrypt ? encryptingIdp : idp).createLoginResponse(
      sp,
      { extract: { request: { id: inResponseTo } } },
      'post',
      user,
      {
        relayState: query.RelayState,
        customTagReplacement: (template) => ({
          id,
          context: samlify.SamlLib.replaceTagsByValue(
            template
              .replace('{AttributeStatement}', attributeStatement(user))
              .replace('{AuthnStatement}', authnStatement(at, user.sessionIndex ?? `_session-${randomUUID()}`)),
            {
              ID: id,
              AssertionID: `_${randomUUID()}`,
              Destination: acsUrl,
              Audience: audience,
              SubjectRecipient: options.recipient ?? acsUrl,
              Issuer: entityId,
              IssueInstant: at,
              StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
              ConditionsNotBefore: at,
              ConditionsNotOnOrAfter: until,
              SubjectConfirmationDataNotOnOrAfter: until,
              NameIDFormat: EMAIL_FORMAT,
              NameID: user.nameId ?? user.email,
              InResponseTo: inResponseTo,
            },
          ),
        }),
      },
    );
    return { samlResponse: made.context, relayState: query.RelayState ?? '', acsUrl };
  };

  const state: SamlTestIdp = {
    origin,
    entityId,
    ssoUrl,
    metadataUrl,
    oktaEmbedLink: `${origin}/home/holdfast_saml_1/${TEST_APP_ID}/aln5testlink6`,
    loopbackEmbedLink: `http://127.0.0.1:${(server.address() as AddressInfo).port}/home/holdfast_saml_1/${TEST_APP_ID}/aln5testlink6`,
    metadataXml: idp.getMetadata(),
    certificate,
    requests: [],
    answer,
    signInAs: null,
    logoutRequest: (nameId, options = {}) => {
      const sp = samlify.ServiceProvider({
        metadata: currentSpMetadata,
        wantLogoutRequestSigned: !options.unsigned,
      });
      const made = idp.createLogoutRequest(sp, 'post', { logoutNameID: nameId }, 'idp-relay');
      return { samlRequest: made.context, relayState: made.relayState, url: made.entityEndpoint };
    },
    logoutRedirect: (nameId, sloUrl) => {
      const xml =
        `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${escapeXml(sloUrl)}">` +
        `<saml:Issuer>${escapeXml(entityId)}</saml:Issuer><saml:NameID Format="${EMAIL_FORMAT}">${escapeXml(nameId)}</saml:NameID></samlp:LogoutRequest>`;
      const octets = [
        `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`,
        `RelayState=${encodeURIComponent('idp-relay')}`,
        `SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')}`,
      ].join('&');
      const signature = createSign('RSA-SHA256').update(octets).sign(privateKey, 'base64');
      return `${sloUrl}?${octets}&Signature=${encodeURIComponent(signature)}`;
    },
    readLogoutRequest: async (redirectUrl) => {
      const query = Object.fromEntries(new URL(redirectUrl).searchParams);
      const parsed = await strictIdp.parseLogoutRequest(defaultSp, 'redirect', {
        query,
        octetString: octetsOf(redirectUrl),
      });
      return { nameId: parsed.extract.nameID, issuer: parsed.extract.issuer };
    },
    setServiceProvider: (metadata) => {
      currentSpMetadata = metadata;
      defaultSp = spOf(metadata);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === new URL(metadataUrl).pathname) {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(state.metadataXml);
      return;
    }
    if (url.pathname === new URL(ssoUrl).pathname) {
      // The IdP's sign-in page: the user is already signed in here, so it posts the response back
      // at once (an auto-submitting form, as IdPs do).
      const user = state.signInAs;
      if (!user) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('Not assigned to this application.');
        return;
      }
      answer(url.toString(), user).then(
        (a) => {
          state.requests.push(url.searchParams.get('SAMLRequest') ?? '');
          res
            .writeHead(200, { 'content-type': 'text/html' })
            .end(
              `<!doctype html><html><body><form method="post" action="${escapeXml(a.acsUrl)}">` +
                `<input type="hidden" name="SAMLResponse" value="${escapeXml(a.samlResponse)}">` +
                `<input type="hidden" name="RelayState" value="${escapeXml(a.relayState)}">` +
                `<button>Continue</button></form><script>document.forms[0].submit()</script></body></html>`,
            );
        },
        (err: unknown) => res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    res.writeHead(404).end();
  });
  return state;
}

export { POST as SAML_POST_BINDING };
