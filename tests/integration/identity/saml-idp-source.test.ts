// Naming the SAML identity provider three ways — its metadata URL, its metadata XML, Okta's App
// Embed Link — against a real IdP on loopback (samlify, tests/helpers/saml-idp.ts), and the
// SP metadata an administrator hands to the IdP.
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIdpMetadata, SamlMetadataError } from '../../../core/identity/sso/saml/saml-idp-metadata.ts';
import { oktaMetadataUrl, resolveSamlIdp } from '../../../core/identity/sso/saml/saml-idp-source.ts';
import { samlSpEndpoints, samlSpMetadata } from '../../../core/identity/sso/saml/saml-service-provider.ts';
import { type SamlTestIdp, startSamlIdp, TEST_APP_ID } from '../../helpers/saml-idp.ts';

const sp = samlSpEndpoints('https://backup.example.com/', 'prov 1');
const loopbackAllowed = { allowInsecureEndpoints: true };
const strict = { allowInsecureEndpoints: false };

let idp: SamlTestIdp;

beforeAll(async () => {
  idp = await startSamlIdp(samlSpMetadata(sp));
}, 60_000);

afterAll(async () => {
  await idp?.close();
});

async function refusal(work: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await work();
  } catch (err) {
    expect(err).toBeInstanceOf(SamlMetadataError);
    return (err as Error).message;
  }
  throw new Error('expected a SamlMetadataError');
}

describe('SP endpoints and metadata', () => {
  it('derives the entity ID and ACS URL from the public URL and the provider id', () => {
    expect(sp).toEqual({
      entityId: 'https://backup.example.com/sso/metadata/prov%201',
      acsUrl: 'https://backup.example.com/sso/callback/prov%201',
      sloUrl: 'https://backup.example.com/sso/logout/prov%201',
    });
  });

  it('publishes SP metadata with the entity ID, the HTTP-POST ACS and WantAssertionsSigned', () => {
    const xml = samlSpMetadata(sp);
    expect(xml).toContain(`entityID="${sp.entityId}"`);
    expect(xml).toMatch(
      /<AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https:\/\/backup\.example\.com\/sso\/callback\/prov%201"\/>/,
    );
    expect(xml).toContain('WantAssertionsSigned="true"');
    expect(xml).toContain('AuthnRequestsSigned="false"');
  });
});

describe('identity provider from metadata', () => {
  it('reads the entity ID, redirect SSO URL and signing certificate of pasted metadata XML', async () => {
    const resolved = await resolveSamlIdp({ kind: 'metadataXml', xml: idp.metadataXml }, loopbackAllowed);
    expect(resolved).toMatchObject({ entityId: idp.entityId, ssoUrl: idp.ssoUrl, metadataUrl: null });
    const fingerprints = resolved.certificates.map((pem) => new X509Certificate(pem).fingerprint256);
    expect(fingerprints).toEqual([new X509Certificate(idp.certificate).fingerprint256]);
  });

  it('fetches the metadata URL', async () => {
    const resolved = await resolveSamlIdp({ kind: 'metadataUrl', url: idp.metadataUrl }, loopbackAllowed);
    expect(resolved.entityId).toBe(idp.entityId);
    expect(resolved.ssoUrl).toBe(idp.ssoUrl);
    expect(resolved.metadataUrl).toBe(idp.metadataUrl);
  });

  it('follows an Okta App Embed Link to the app’s metadata URL', async () => {
    expect(
      oktaMetadataUrl('https://acme.okta.com/home/acme_holdfastsaml_1/0oa2refpeld3092Tr09va/aln1b2c3d4e5', strict),
    ).toBe('https://acme.okta.com/app/0oa2refpeld3092Tr09va/sso/saml/metadata');
    const resolved = await resolveSamlIdp({ kind: 'oktaEmbedLink', url: idp.oktaEmbedLink }, loopbackAllowed);
    expect(resolved.metadataUrl).toBe(`${idp.origin}/app/${TEST_APP_ID}/sso/saml/metadata`);
    expect(resolved.entityId).toBe(idp.entityId);
  });

  it('says what else to paste when an Okta link’s metadata cannot be read', async () => {
    const message = await refusal(() =>
      resolveSamlIdp({ kind: 'oktaEmbedLink', url: `${idp.origin}/home/other_app_1/0oaNoSuchApp123` }, loopbackAllowed),
    );
    expect(message).toBe(
      `The metadata could not be read from ${idp.origin}/app/0oaNoSuchApp123/sso/saml/metadata: the server answered 404. Paste the app’s metadata XML instead (Okta: the app’s Sign On tab › Identity Provider metadata).`,
    );
  });

  it('refuses a link that is not an App Embed Link', async () => {
    expect(await refusal(() => oktaMetadataUrl('https://acme.okta.com/app/UserHome', strict))).toMatch(
      /^This is not an Okta App Embed Link/,
    );
  });

  it('refuses http:// and loopback endpoints unless the operator allows them', async () => {
    expect(await refusal(() => resolveSamlIdp({ kind: 'metadataUrl', url: idp.metadataUrl }, strict))).toBe(
      'The metadata URL must be an https:// URL (it is http://…).',
    );
    expect(
      await refusal(() => resolveSamlIdp({ kind: 'metadataUrl', url: 'https://127.0.0.1:1/metadata' }, strict)),
    ).toBe('The metadata URL points at a private, loopback or link-local address.');
    expect(await refusal(() => parseIdpMetadata(idp.metadataXml, strict))).toBe(
      'The single sign-on URL in the metadata must be an https:// URL (it is http://…).',
    );
  });

  it('names what is missing or wrong in pasted metadata', async () => {
    const cases: [string, string][] = [
      ['not xml at all', 'The metadata is not well-formed XML'],
      ['<!DOCTYPE x [<!ENTITY a "b">]><x/>', 'The metadata declares a DOCTYPE, which is not accepted.'],
      ['<html/>', 'This is not SAML 2.0 metadata: no md:EntityDescriptor was found.'],
      [
        idp.metadataXml.replace(/IDPSSODescriptor/g, 'SPSSODescriptor'),
        'The metadata describes no SAML 2.0 identity provider (no IDPSSODescriptor).',
      ],
      [
        idp.metadataXml.replace(/HTTP-Redirect/g, 'HTTP-Artifact'),
        'The identity provider offers no SingleSignOnService with the HTTP-Redirect binding, which sign-in uses.',
      ],
      [
        idp.metadataXml.replace(/<(\w+:)?KeyDescriptor[\s\S]*<\/(\w+:)?KeyDescriptor>/, ''),
        'The metadata holds no signing certificate (KeyDescriptor with an X509Certificate).',
      ],
      [
        idp.metadataXml.replace(/(<(?:\w+:)?X509Certificate>)[^<]+/, '$1bm90IGEgY2VydGlmaWNhdGU='),
        'A signing certificate in the metadata is not a valid X.509 certificate.',
      ],
    ];
    for (const [xml, message] of cases) {
      expect(await refusal(() => parseIdpMetadata(xml, loopbackAllowed))).toContain(message);
    }
  });
});
