// The three ways an administrator names a SAML identity provider, each turned into the IdP's
// settings: its metadata URL (fetched now), its metadata XML (pasted), or Okta's App Embed Link
// (seed 002 §5.4.3), from which the app's metadata URL follows — Okta publishes every SAML
// app's metadata at https://{okta domain}/app/{app id}/sso/saml/metadata.
//
// Fetching a URL an administrator typed is a server-side request, so it follows the webhooks'
// SSRF rule: https only, and no loopback, private or link-local address, unless the operator
// allows insecure IdP endpoints (tests, an IdP on the local network).
import { isIP } from 'node:net';
import { isPrivateAddress } from '../../../webhooks/url-guard.ts';
import { fetchIdpDocument } from './saml-fetch.ts';
import {
  checkIdpEndpoint,
  type EndpointRule,
  parseIdpMetadata,
  type SamlIdpSettings,
  SamlMetadataError,
} from './saml-idp-metadata.ts';

export type SamlIdpSource =
  | { kind: 'metadataUrl'; url: string }
  | { kind: 'metadataXml'; xml: string }
  | { kind: 'oktaEmbedLink'; url: string };

export interface ResolvedSamlIdp extends SamlIdpSettings {
  /** The metadata URL the settings were read from (kept to refresh certificates), or null for pasted XML. */
  metadataUrl: string | null;
}

/**
 * The metadata URL of the Okta SAML app an App Embed Link opens. The link reads
 * https://{okta domain}/home/{app name}/{app id}[/{link id}]; the app id is what matters.
 */
export function oktaMetadataUrl(link: string, rule: EndpointRule): string {
  const checked = new URL(checkIdpEndpoint(link.trim(), rule, 'App Embed Link'));
  const [home, appName, appId] = checked.pathname.split('/').filter(Boolean);
  if (home !== 'home' || !appName || !appId || !/^[A-Za-z0-9]{8,64}$/.test(appId)) {
    throw new SamlMetadataError(
      'This is not an Okta App Embed Link: it should read https://{your Okta domain}/home/{app name}/{app id}. Copy it from the app’s General tab in Okta.',
    );
  }
  return new URL(`/app/${appId}/sso/saml/metadata`, checked.origin).toString();
}

/** Refuses a literal loopback/private address before any request is made (names are checked on connect). */
function checkAddress(url: string, rule: EndpointRule): void {
  if (rule.allowInsecureEndpoints) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && isPrivateAddress(host)) {
    throw new SamlMetadataError('The metadata URL points at a private, loopback or link-local address.');
  }
}

/** Reads the IdP's settings from whichever source the administrator gave. */
export async function resolveSamlIdp(source: SamlIdpSource, rule: EndpointRule): Promise<ResolvedSamlIdp> {
  if (source.kind === 'metadataXml') {
    return { ...parseIdpMetadata(source.xml, rule), metadataUrl: null };
  }
  const metadataUrl =
    source.kind === 'oktaEmbedLink'
      ? oktaMetadataUrl(source.url, rule)
      : checkIdpEndpoint(source.url.trim(), rule, 'metadata URL');
  checkAddress(metadataUrl, rule);
  let xml: string;
  try {
    xml = await fetchIdpDocument(metadataUrl, rule.allowInsecureEndpoints);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint =
      source.kind === 'oktaEmbedLink'
        ? ' Paste the app’s metadata XML instead (Okta: the app’s Sign On tab › Identity Provider metadata).'
        : ' Check the URL, or paste the metadata XML instead.';
    throw new SamlMetadataError(`The metadata could not be read from ${metadataUrl}: ${why}.${hint}`);
  }
  return { ...parseIdpMetadata(xml, rule), metadataUrl };
}
