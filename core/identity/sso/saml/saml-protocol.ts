// SAML 2.0 behind the shared single sign-on flow (protocol.ts): an administrator names the
// identity provider by its metadata URL, its metadata XML or Okta's App Embed Link; sign-in
// sends an AuthnRequest with the pending sign-in's state as RelayState and remembers the
// request's ID; the posted Response is checked by saml-response.ts, the assertion's ID claimed
// through the flow's `claimOnce` (replay). SAML cannot ask the IdP about a user without the
// browser, so an SSO session ends at its revalidation time and the person signs in again.
import { ValidationError } from '../../../errors.ts';
import type {
  SsoCallback,
  SsoCompletion,
  SsoContext,
  SsoPendingView,
  SsoProtocol,
  SsoProviderView,
  SsoStart,
} from '../protocol.ts';
import { type SamlIdpSettings, SamlMetadataError } from './saml-idp-metadata.ts';
import { resolveSamlIdp, type SamlIdpSource } from './saml-idp-source.ts';
import type { SamlSpCredentials, SamlSpEndpoints } from './saml-service-provider.ts';

// node-saml, xml-crypto, the X.509 and XML libraries (~9 MiB of heap) load with the first SAML
// action (a provider saved, a sign-in, the SP metadata asked for), not with the server.
const authnRequest = () => import('./saml-authn-request.ts');
const logout = () => import('./saml-logout.ts');
const response = () => import('./saml-response.ts');
const serviceProvider = () => import('./saml-service-provider.ts');
const spKey = () => import('./saml-sp-key.ts');

/** What a SAML provider row keeps (sso_providers.settings): nothing in it is secret. */
export interface SamlProviderSettings extends SamlIdpSettings {
  source: SamlIdpSource['kind'];
  /** Where the metadata was read from (metadata URL or the Okta app's), or null when pasted. */
  metadataUrl: string | null;
  /** The App Embed Link as pasted (source oktaEmbedLink). */
  oktaLink: string | null;
  /** The metadata XML as pasted (source metadataXml), shown again on the form. */
  metadataXml: string | null;
  /** Whether the IdP's e-mail attribute is taken as verified (the flow matches accounts by it). */
  emailVerified: boolean;
  /** "Sign authentication requests": AuthnRequests and LogoutRequests signed with the SP key. */
  signAuthnRequests?: boolean;
  /** The SP's certificate (public; its private key is with the sealed secrets). */
  spCertificate?: string | null;
}

/** The sealed secrets of a SAML provider: the SP's private key, and its certificate beside it. */
interface SamlProviderSecrets {
  spPrivateKey?: string;
  spCertificate?: string;
}

const TRUE_VALUES = ['on', 'true'];

/** The SP's own key pair of a provider and whether it signs requests with it. */
export function samlCredentialsOf(provider: SsoProviderView): SamlSpCredentials {
  const secrets = provider.secrets as SamlProviderSecrets;
  const key =
    secrets.spPrivateKey && secrets.spCertificate
      ? { privateKey: secrets.spPrivateKey, certificate: secrets.spCertificate }
      : null;
  return { key, signRequests: Boolean(key && samlSettingsOf(provider).signAuthnRequests) };
}

/** The form / API fields, one of the first three. */
const FIELDS = { metadataUrl: 'metadataUrl', metadataXml: 'metadataXml', oktaLink: 'oktaLink' } as const;

function sourceOf(input: Record<string, string>): { source: SamlIdpSource; field: string } {
  const given = (Object.keys(FIELDS) as (keyof typeof FIELDS)[]).filter((k) => (input[k] ?? '').trim() !== '');
  if (given.length !== 1) {
    throw new ValidationError({
      metadataUrl:
        given.length === 0
          ? 'Enter the identity provider’s metadata URL, paste its metadata XML, or paste Okta’s App Embed Link.'
          : 'Give one of the metadata URL, the metadata XML or the App Embed Link, not several.',
    });
  }
  const field = given[0] as keyof typeof FIELDS;
  const value = (input[field] ?? '').trim();
  const source: SamlIdpSource =
    field === 'metadataXml'
      ? { kind: 'metadataXml', xml: value }
      : field === 'oktaLink'
        ? { kind: 'oktaEmbedLink', url: value }
        : { kind: 'metadataUrl', url: value };
  return { source, field };
}

export function samlSettingsOf(provider: SsoProviderView): SamlProviderSettings {
  return provider.settings as unknown as SamlProviderSettings;
}

export function spOf(context: SsoContext): SamlSpEndpoints {
  return {
    entityId: context.serviceProviderId,
    acsUrl: context.callbackUrl,
    sloUrl: context.logoutUrl ?? context.callbackUrl.replace('/sso/callback/', '/sso/logout/'),
  };
}

export const samlProtocol: SsoProtocol = {
  name: 'saml',

  async parseSettings(input, previousSecrets, context) {
    const { source, field } = sourceOf(input);
    let idp: Awaited<ReturnType<typeof resolveSamlIdp>>;
    try {
      idp = await resolveSamlIdp(source, { allowInsecureEndpoints: context.allowLoopback });
    } catch (error) {
      if (error instanceof SamlMetadataError) throw new ValidationError({ [field]: error.message });
      throw error;
    }
    const settings: SamlProviderSettings = {
      source: source.kind,
      entityId: idp.entityId,
      ssoUrl: idp.ssoUrl,
      certificates: idp.certificates,
      metadataUrl: idp.metadataUrl,
      oktaLink: source.kind === 'oktaEmbedLink' ? source.url : null,
      metadataXml: source.kind === 'metadataXml' ? source.xml : null,
      emailVerified: (input.emailVerified ?? '').trim() !== 'false',
      sloUrl: idp.sloUrl ?? null,
      signAuthnRequests: TRUE_VALUES.includes((input.signAuthnRequests ?? '').trim()),
      spCertificate: null,
    };
    // The SP key pair is made once, at the first save, and kept across changes: IdPs pin its
    // certificate from the SP metadata.
    const previous = (previousSecrets ?? {}) as SamlProviderSecrets;
    const key =
      previous.spPrivateKey && previous.spCertificate
        ? { privateKey: previous.spPrivateKey, certificate: previous.spCertificate }
        : await (await spKey()).generateSpKey(`Holdfast SAML SP ${idp.entityId}`);
    settings.spCertificate = key.certificate;
    return {
      preset: source.kind === 'oktaEmbedLink' ? 'okta' : 'saml',
      settings: settings as unknown as Record<string, unknown>,
      secrets: { spPrivateKey: key.privateKey, spCertificate: key.certificate },
    };
  },

  describeSettings(provider) {
    const s = samlSettingsOf(provider);
    return {
      source: s.source,
      ...(s.source === 'metadataUrl' ? { metadataUrl: s.metadataUrl } : {}),
      ...(s.oktaLink ? { oktaLink: s.oktaLink } : {}),
      ...(s.metadataXml ? { metadataXml: s.metadataXml } : {}),
      idpEntityId: s.entityId,
      idpSsoUrl: s.ssoUrl,
      idpSloUrl: s.sloUrl ?? null,
      certificates: s.certificates.length,
      emailVerified: s.emailVerified,
      signAuthnRequests: Boolean(s.signAuthnRequests),
      spCertificate: s.spCertificate ?? null,
    };
  },

  async metadata(provider, context) {
    return (await serviceProvider()).samlSpMetadata(spOf(context), samlCredentialsOf(provider));
  },

  async startSignIn(provider: SsoProviderView, pending: SsoPendingView, context: SsoContext): Promise<SsoStart> {
    const request = await (await authnRequest()).buildSamlAuthnRequest(
      spOf(context),
      samlSettingsOf(provider),
      pending.state,
      samlCredentialsOf(provider),
    );
    return {
      kind: 'redirect',
      url: request.url,
      protocolData: { requestId: request.requestId, issuedAt: request.issuedAt },
    };
  },

  async completeSignIn(
    provider: SsoProviderView,
    callback: SsoCallback,
    pending: SsoPendingView,
    context: SsoContext,
  ): Promise<SsoCompletion> {
    const claimOnce = context.claimOnce;
    if (!claimOnce) return { kind: 'refused', reason: 'Replay protection is not available for this sign-in.' };
    const samlResponse = callback.form.SAMLResponse;
    if (callback.method !== 'POST' || !samlResponse) {
      return { kind: 'refused', reason: 'The identity provider did not post a SAML response.' };
    }
    const { requestId, issuedAt } = pending.protocolData;
    const settings = samlSettingsOf(provider);
    const outcome = await (await response()).validateSamlResponse({
      sp: spOf(context),
      idp: settings,
      samlResponse,
      request: requestId && issuedAt ? { requestId, issuedAt } : null,
      replay: { claim: (issuer, id, until) => claimOnce(issuer, id, until) },
      now: context.now,
      own: samlCredentialsOf(provider),
    });
    if (!outcome.ok) return { kind: 'refused', reason: outcome.message };
    const { identity } = outcome;
    return {
      kind: 'ok',
      identity: {
        subject: identity.subject,
        email: identity.email,
        emailVerified: settings.emailVerified && identity.email !== null,
        displayName: identity.displayName,
        groups: identity.groups,
      },
    };
  },

  async signOutUrl(provider, subject, context) {
    const { samlLogoutRequestUrl } = await logout();
    return samlLogoutRequestUrl(spOf(context), samlSettingsOf(provider), samlCredentialsOf(provider), subject);
  },

  async receiveLogout(provider, message, context) {
    const { readSamlLogoutMessage, samlLogoutResponseUrl } = await logout();
    const settings = samlSettingsOf(provider);
    const own = samlCredentialsOf(provider);
    const outcome = await readSamlLogoutMessage(
      spOf(context),
      settings,
      own,
      message.method === 'POST'
        ? { binding: 'post', form: message.form }
        : { binding: 'redirect', query: message.query, rawQuery: message.rawQuery },
    );
    if (outcome.kind !== 'request') return outcome;
    return {
      kind: 'request',
      subject: outcome.nameId,
      answerUrl: await samlLogoutResponseUrl(spOf(context), settings, own, outcome.requestId, outcome.relayState),
    };
  },

  async revalidate() {
    return { kind: 'unsupported' };
  },
};
