// The SAML service provider against a real IdP on loopback (samlify, tests/helpers/saml-idp.ts):
// the AuthnRequest the appliance builds is parsed and schema-validated by the IdP, which answers
// with a signed Response; the appliance accepts it once. Every bad response is one the IdP really
// produced — made for another SP, with its clock behind, signed with another key — or the XML it
// produced, changed the way an attacker would (signature removed, assertions wrapped).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, migrate, openDatabase } from '../../../core/db/database.ts';
import { buildSamlAuthnRequest, newRelayState } from '../../../core/identity/sso/saml/saml-authn-request.ts';
import { parseIdpMetadata, type SamlIdpSettings } from '../../../core/identity/sso/saml/saml-idp-metadata.ts';
import { databaseReplayStore, type SamlReplayStore } from '../../../core/identity/sso/saml/saml-replay.ts';
import {
  type SamlOutcome,
  type SamlPendingRequest,
  validateSamlResponse,
} from '../../../core/identity/sso/saml/saml-response.ts';
import {
  type SamlSpCredentials,
  samlSpEndpoints,
  samlSpMetadata,
} from '../../../core/identity/sso/saml/saml-service-provider.ts';
import { generateSpKey } from '../../../core/identity/sso/saml/saml-sp-key.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import {
  generateSigningKey,
  type ResponseOptions,
  type SamlTestIdp,
  type SamlTestUser,
  startSamlIdp,
} from '../../helpers/saml-idp.ts';

const sp = samlSpEndpoints('https://backup.example.com', 'org-1-saml');
const otherSp = samlSpEndpoints('https://backup.example.com', 'org-2-saml');
const rule = { allowInsecureEndpoints: true };
const alice: SamlTestUser = {
  email: 'Alice@Customer.example',
  firstName: 'Alice',
  lastName: 'Liddell',
  groups: ['Backup Admins', 'Everyone'],
  sessionIndex: '_s1',
};

let dir: ReturnType<typeof tempDir>;
let db: Database;
let idp: SamlTestIdp;
let forger: SamlTestIdp;
let impostor: SamlTestIdp;
let idpSettings: SamlIdpSettings;
let idpKey: Awaited<ReturnType<typeof generateSigningKey>>;
let replay: SamlReplayStore;
/** The SP's own key pair, signing its requests. */
let own: SamlSpCredentials;

beforeAll(async () => {
  dir = tempDir();
  db = await openDatabase(testConfig(dir.path));
  await migrate(db);
  replay = databaseReplayStore(db.em);
  idpKey = await generateSigningKey();
  idp = await startSamlIdp(samlSpMetadata(sp), idpKey);
  // Same entity ID, its own key: what someone without the IdP's key can sign.
  forger = await startSamlIdp(samlSpMetadata(sp), undefined, idp.entityId);
  // The IdP's key, another entity ID: an assertion that verifies but was issued by someone else.
  impostor = await startSamlIdp(samlSpMetadata(sp), idpKey, 'https://other-idp.example/saml');
  idpSettings = parseIdpMetadata(idp.metadataXml, rule);
  own = { key: await generateSpKey('Holdfast test SP'), signRequests: true };
}, 60_000);

afterAll(async () => {
  await idp?.close();
  await forger?.close();
  await impostor?.close();
  await db?.close();
  dir?.remove();
});

/** Starts a sign-in: the AuthnRequest redirect and what the pending sign-in keeps. */
async function start(): Promise<{ url: string; request: SamlPendingRequest; relayState: string }> {
  const relayState = newRelayState();
  const built = await buildSamlAuthnRequest(sp, idpSettings, relayState);
  return { url: built.url, request: { requestId: built.requestId, issuedAt: built.issuedAt }, relayState };
}

async function signIn(
  user: SamlTestUser,
  options: ResponseOptions & { via?: SamlTestIdp; change?: (xml: string) => string } = {},
): Promise<SamlOutcome> {
  const { url, request } = await start();
  const answer = await (options.via ?? idp).answer(url, user, options);
  const samlResponse = options.change
    ? Buffer.from(options.change(Buffer.from(answer.samlResponse, 'base64').toString('utf8'))).toString('base64')
    : answer.samlResponse;
  return validateSamlResponse({ sp, idp: idpSettings, samlResponse, request, replay });
}

const ASSERTION = /<saml:Assertion\b[\s\S]*<\/saml:Assertion>/;

describe('SAML sign-in against a real IdP', () => {
  it('builds an AuthnRequest the IdP parses and schema-validates, with the RelayState bound to the sign-in', async () => {
    const { url, request, relayState } = await start();
    const target = new URL(url);
    expect(target.origin + target.pathname).toBe(idp.ssoUrl);
    expect(target.searchParams.get('RelayState')).toBe(relayState);
    const answer = await idp.answer(url, alice);
    expect(answer.relayState).toBe(relayState);
    expect(answer.acsUrl).toBe(sp.acsUrl);
    const xml = Buffer.from(answer.samlResponse, 'base64').toString('utf8');
    expect(xml).toContain(`InResponseTo="${request.requestId}"`);
  });

  it('accepts a signed assertion and returns the subject, e-mail, groups and session index', async () => {
    const outcome = await signIn(alice);
    expect(outcome).toEqual({
      ok: true,
      identity: {
        subject: 'Alice@Customer.example',
        nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        email: 'alice@customer.example',
        groups: ['Backup Admins', 'Everyone'],
        displayName: 'Alice Liddell',
        sessionIndex: '_s1',
        issuer: idp.entityId,
        assertionId: expect.stringMatching(/^_/),
      },
    });
  });

  it('accepts a response whose signature covers the whole response, assertion included', async () => {
    const outcome = await signIn(alice, {
      signResponseOnly: true,
      change: (xml) => {
        // The IdP signed only the Response: the assertion carries no signature of its own.
        expect(ASSERTION.exec(xml)?.[0]).not.toContain('<ds:Signature');
        return xml;
      },
    });
    expect(outcome.ok).toBe(true);
  });

  it('refuses an unsigned response (the IdP’s signature removed)', async () => {
    const outcome = await signIn(alice, {
      change: (xml) => {
        const stripped = xml.replace(/<ds:Signature\b[\s\S]*?<\/ds:Signature>/g, '');
        expect(stripped).not.toContain('Signature');
        return stripped;
      },
    });
    expect(outcome).toMatchObject({ ok: false, reason: 'unsigned' });
  });

  it('refuses an assertion changed after signing (another NameID)', async () => {
    const outcome = await signIn(alice, {
      change: (xml) => xml.replace(/>Alice@Customer\.example</, '>mallory@customer.example<'),
    });
    expect(outcome).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses an assertion signed with a key the IdP’s metadata does not hold', async () => {
    const outcome = await signIn(alice, { via: forger });
    expect(outcome).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses an assertion issued by another entity, even signed with the configured key', async () => {
    const outcome = await signIn(alice, { via: impostor });
    expect(outcome).toMatchObject({ ok: false, reason: 'wrong-issuer' });
    // The Response's own (unsigned) Issuer set to the configured IdP: the signed assertion's still says who.
    const disguised = await signIn(alice, {
      via: impostor,
      change: (xml) => xml.replace(/<saml:Issuer>[^<]*<\/saml:Issuer>/, `<saml:Issuer>${idp.entityId}</saml:Issuer>`),
    });
    expect(disguised).toEqual({
      ok: false,
      reason: 'wrong-issuer',
      message: 'The assertion was issued by https://other-idp.example/saml, not by the configured identity provider.',
    });
  });

  it('refuses an assertion whose bearer confirmation names another Recipient', async () => {
    const outcome = await signIn(alice, { recipient: otherSp.acsUrl });
    expect(outcome).toMatchObject({ ok: false, reason: 'wrong-recipient' });
  });

  it('refuses an assertion made for another service provider (wrong audience)', async () => {
    // Made for org 2's SP but posted here; only the audience differs from a good response.
    const forOther = samlSpMetadata(otherSp).replace(otherSp.acsUrl, sp.acsUrl);
    const outcome = await signIn(alice, { spMetadata: forOther });
    expect(outcome).toMatchObject({ ok: false, reason: 'wrong-audience' });
  });

  it('refuses a response addressed to another service provider’s ACS URL', async () => {
    const outcome = await signIn(alice, { spMetadata: samlSpMetadata(otherSp) });
    expect(outcome).toMatchObject({ ok: false, reason: 'wrong-destination' });
  });

  it('refuses an expired assertion (the IdP’s clock 10 minutes behind: NotOnOrAfter passed beyond the skew)', async () => {
    const outcome = await signIn(alice, { clockOffsetMs: -10 * 60_000 });
    expect(outcome).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('accepts an IdP clock one minute ahead (inside the skew) and refuses one ten minutes ahead', async () => {
    expect((await signIn(alice, { clockOffsetMs: 60_000 })).ok).toBe(true);
    expect(await signIn(alice, { clockOffsetMs: 10 * 60_000 })).toMatchObject({ ok: false, reason: 'not-yet-valid' });
  });

  it('refuses a replayed response: the same assertion posted twice', async () => {
    const { url, request } = await start();
    const { samlResponse } = await idp.answer(url, alice);
    const first = await validateSamlResponse({ sp, idp: idpSettings, samlResponse, request, replay });
    expect(first.ok).toBe(true);
    const again = await validateSamlResponse({ sp, idp: idpSettings, samlResponse, request, replay });
    expect(again).toMatchObject({ ok: false, reason: 'replayed' });
  });

  it('refuses a response to another sign-in request, and one with no pending sign-in (IdP-initiated)', async () => {
    expect(await signIn(alice, { inResponseTo: '_not-our-request' })).toMatchObject({
      ok: false,
      reason: 'wrong-request',
    });
    const { url } = await start();
    const { samlResponse } = await idp.answer(url, alice);
    expect(await validateSamlResponse({ sp, idp: idpSettings, samlResponse, request: null, replay })).toMatchObject({
      ok: false,
      reason: 'unsolicited',
    });
  });

  it('refuses XML signature wrapping: a forged unsigned assertion inserted before the signed one', async () => {
    const outcome = await signIn(alice, {
      change: (xml) => {
        const signed = ASSERTION.exec(xml)?.[0] as string;
        const forged = signed
          .replace(/<ds:Signature\b[\s\S]*?<\/ds:Signature>/, '')
          .replace(/ID="[^"]+"/, 'ID="_forged"')
          .replace(/>Alice@Customer\.example</g, '>mallory@customer.example<');
        return xml.replace(signed, forged + signed);
      },
    });
    expect(outcome).toMatchObject({ ok: false, reason: 'wrapped' });
  });

  it('refuses XML signature wrapping: the signed assertion moved into Extensions, a forged one in its place', async () => {
    const outcome = await signIn(alice, {
      change: (xml) => {
        const signed = ASSERTION.exec(xml)?.[0] as string;
        const forged = signed
          .replace(/<ds:Signature\b[\s\S]*?<\/ds:Signature>/, '')
          .replace(/>Alice@Customer\.example</g, '>mallory@customer.example<');
        const withoutSigned = xml.replace(signed, forged);
        return withoutSigned.replace(/(<\/saml:Issuer>)/, `$1<samlp:Extensions>${signed}</samlp:Extensions>`);
      },
    });
    expect(outcome).toMatchObject({ ok: false, reason: 'wrapped' });
  });
});

describe('the SP’s own key: signed AuthnRequests and encrypted assertions', () => {
  /** A sign-in by an SP holding `own`: its request signed, the IdP given the SP's keyed metadata. */
  async function signInWithKey(
    options: ResponseOptions & {
      ownForResponse?: SamlSpCredentials;
      change?: (url: string) => string;
      sent?: (xml: string) => void;
    } = {},
  ): Promise<SamlOutcome> {
    const relayState = newRelayState();
    const built = await buildSamlAuthnRequest(sp, idpSettings, relayState, own);
    const url = options.change ? options.change(built.url) : built.url;
    const answer = await idp.answer(url, alice, { spMetadata: samlSpMetadata(sp, own), ...options });
    options.sent?.(Buffer.from(answer.samlResponse, 'base64').toString('utf8'));
    return validateSamlResponse({
      sp,
      idp: idpSettings,
      samlResponse: answer.samlResponse,
      request: { requestId: built.requestId, issuedAt: built.issuedAt },
      replay,
      own: options.ownForResponse ?? own,
    });
  }

  it('publishes the SP certificate for signing and encryption in the metadata, AuthnRequestsSigned when signing', () => {
    const certificate = (own.key?.certificate ?? '').replace(/-----[A-Z ]+-----|\s+/g, '');
    const signing = samlSpMetadata(sp, own);
    expect(signing).toContain('AuthnRequestsSigned="true"');
    expect(signing).toMatch(/<KeyDescriptor use="signing">/);
    expect(signing).toMatch(/<KeyDescriptor use="encryption">/);
    expect(signing.replace(/\s+/g, '')).toContain(`<ds:X509Certificate>${certificate}</ds:X509Certificate>`);
    expect(signing).toContain(
      `<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${sp.sloUrl}"/>`,
    );
    const notSigning = samlSpMetadata(sp, { key: own.key, signRequests: false });
    expect(notSigning).toContain('AuthnRequestsSigned="false"');
    expect(notSigning).not.toContain('use="signing"');
    expect(notSigning).toMatch(/<KeyDescriptor use="encryption">/);
    // The private key is never in the metadata.
    expect(signing).not.toContain('PRIVATE KEY');
  });

  it('signs the AuthnRequest (RSA-SHA256 over the redirect binding) and an IdP that requires it accepts it', async () => {
    const built = await buildSamlAuthnRequest(sp, idpSettings, newRelayState(), own);
    expect(new URL(built.url).searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const outcome = await signInWithKey({ requireSignedRequest: true });
    expect(outcome.ok).toBe(true);
  });

  it('an IdP that requires signed requests refuses one whose signature was altered, or one not signed', async () => {
    await expect(
      signInWithKey({
        requireSignedRequest: true,
        change: (url) => {
          const changed = new URL(url);
          changed.searchParams.set('RelayState', 'another-sign-in');
          return changed.toString();
        },
      }),
    ).rejects.toThrow('ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION');
    const unsigned = await buildSamlAuthnRequest(sp, idpSettings, newRelayState(), { ...own, signRequests: false });
    await expect(
      idp.answer(unsigned.url, alice, { spMetadata: samlSpMetadata(sp, own), requireSignedRequest: true }),
    ).rejects.toThrow('ERR_MISSING_SIG_ALG');
  });

  it('accepts an assertion the IdP encrypted to the SP’s certificate, reading the signed assertion inside', async () => {
    let sent = '';
    const outcome = await signInWithKey({ encrypt: true, sent: (xml) => (sent = xml) });
    // What travelled: an EncryptedAssertion, no readable assertion or e-mail.
    expect(sent).toMatch(/<saml:EncryptedAssertion\b/);
    expect(sent).not.toMatch(/<saml:Assertion\b/);
    expect(sent).not.toContain('Alice@Customer.example');
    expect(outcome).toMatchObject({
      ok: true,
      identity: { subject: 'Alice@Customer.example', email: 'alice@customer.example', issuer: idp.entityId },
    });
  });

  it('refuses an encrypted assertion without the key to decrypt it, or encrypted to another SP’s key', async () => {
    expect(await signInWithKey({ encrypt: true, ownForResponse: { key: null, signRequests: false } })).toMatchObject({
      ok: false,
      reason: 'encrypted',
    });
    const otherKey = await generateSpKey('Another SP');
    expect(await signInWithKey({ encrypt: true, ownForResponse: { key: otherKey, signRequests: false } })).toEqual({
      ok: false,
      reason: 'encrypted',
      message:
        'The encrypted assertion cannot be decrypted with this provider’s key: it was encrypted to another certificate.',
    });
  });

  it('refuses an encrypted assertion that is signed by nobody the SP trusts', async () => {
    const relayState = newRelayState();
    const built = await buildSamlAuthnRequest(sp, idpSettings, relayState, own);
    const answer = await forger.answer(built.url, alice, { spMetadata: samlSpMetadata(sp, own), encrypt: true });
    expect(
      await validateSamlResponse({
        sp,
        idp: idpSettings,
        samlResponse: answer.samlResponse,
        request: { requestId: built.requestId, issuedAt: built.issuedAt },
        replay,
        own,
      }),
    ).toEqual({
      ok: false,
      reason: 'bad-signature',
      message:
        'The decrypted assertion carries no signature that verifies with the identity provider’s certificate, and the response is not signed either.',
    });
  });
});

describe('the database replay store', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  const later = new Date(now.getTime() + 5 * 60_000);

  it('lets exactly one of simultaneous claims of an assertion win', async () => {
    const claims = await Promise.all(
      Array.from({ length: 8 }, () => replay.claim('https://idp.example', '_race', later, now)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it('scopes assertion IDs by issuer', async () => {
    expect(await replay.claim('https://idp-a.example', '_same-id', later, now)).toBe(true);
    expect(await replay.claim('https://idp-b.example', '_same-id', later, now)).toBe(true);
    expect(await replay.claim('https://idp-a.example', '_same-id', later, now)).toBe(false);
  });

  it('takes over the record of an assertion that has expired', async () => {
    expect(await replay.claim('https://idp.example', '_reused', later, now)).toBe(true);
    expect(await replay.claim('https://idp.example', '_reused', later, new Date(later.getTime() - 1))).toBe(false);
    expect(await replay.claim('https://idp.example', '_reused', new Date(later.getTime() + 60_000), later)).toBe(true);
  });
});
