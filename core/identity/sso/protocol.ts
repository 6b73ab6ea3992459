// The contract between the shared single sign-on flow (providers, policy, pending sign-ins,
// account matching, sessions, audit) and one protocol module (OpenID Connect, SAML 2.0).
// A protocol module knows its wire format only: it turns a provider's settings into a
// redirect (or an auto-posted form) to the identity provider, and the identity provider's
// answer into a verified identity — or a refusal with a reason people can read. It never
// touches users, sessions or the audit log; the flow (flow.ts) does.

/** The protocols a provider row may name (`sso_providers.protocol`). */
export const SSO_PROTOCOLS = ['oidc', 'saml'] as const;
export type SsoProtocolName = (typeof SSO_PROTOCOLS)[number];

/** A provider as a protocol module sees it: settings parsed, secrets decrypted. */
export interface SsoProviderView {
  id: string;
  organizationId: string;
  protocol: SsoProtocolName;
  /** The preset it was made from ('entra', 'google', 'okta', 'oidc', 'saml'): labels and extra checks. */
  preset: string;
  /** Non-secret protocol settings, as the module's parseSettings returned them. */
  settings: Record<string, unknown>;
  /** Secret settings (client secret, signing key), decrypted; never shown or returned by the API. */
  secrets: Record<string, string>;
}

/**
 * One sign-in under way, stored server-side (sso_pending_sign_ins) and bound to the browser
 * that started it by a cookie; single use: the flow deletes it before completeSignIn runs,
 * so a replayed callback finds nothing.
 */
export interface SsoPendingView {
  /** Random, sent to the identity provider as OIDC `state` / SAML `RelayState`. */
  state: string;
  /** Random, sent as the OIDC `nonce`; a SAML module may ignore it. */
  nonce: string;
  /** PKCE code verifier (OIDC); a SAML module may ignore it. */
  codeVerifier: string;
  /** What startSignIn chose to remember (e.g. a SAML AuthnRequest ID for InResponseTo). */
  protocolData: Record<string, string>;
  /** The e-mail typed on the login page, passed as a login hint when the protocol has one. */
  loginHint: string | null;
}

/** What the flow tells a module about the appliance. */
export interface SsoContext {
  /** Absolute URL of this provider's callback (OIDC redirect_uri, SAML ACS URL). */
  callbackUrl: string;
  /** Absolute URL that identifies this appliance's side for this provider (SAML entity ID). */
  serviceProviderId: string;
  /** Absolute URL of this provider's single logout endpoint (SAML); derived from callbackUrl when absent. */
  logoutUrl?: string;
  /** Plain http and loopback identity providers allowed (HOLDFAST_SSO_ALLOW_LOOPBACK; tests only). */
  allowLoopback: boolean;
  now: Date;
  /**
   * Records a one-time value (a SAML assertion's ID, scoped by its issuer) until it expires;
   * false when it was already recorded: a replay. The flow backs it with the database when it
   * completes a sign-in (saml_assertion_uses); a module that needs it refuses without it.
   */
  claimOnce?: (issuer: string, id: string, until: Date) => Promise<boolean>;
}

/** How to send the browser to the identity provider. */
export type SsoStart =
  | { kind: 'redirect'; url: string; protocolData?: Record<string, string> }
  /** An auto-submitted form (SAML HTTP-POST binding). */
  | { kind: 'post'; url: string; fields: Record<string, string>; protocolData?: Record<string, string> };

/** The callback as received: its full URL (query) and, for a POST, its form fields. */
export interface SsoCallback {
  url: URL;
  method: 'GET' | 'POST';
  form: Record<string, string>;
}

/** A verified identity: the module has checked signature, audience, expiry, replay, nonce/InResponseTo. */
export interface SsoIdentity {
  /** Stable subject at this provider (OIDC `sub`, SAML NameID): what an external identity links. */
  subject: string;
  email: string | null;
  /** The provider vouches the address belongs to the subject (OIDC email_verified; SAML: true when configured so). */
  emailVerified: boolean;
  displayName: string | null;
  /** Group names or ids from the provider's groups claim/attribute, for role mapping. */
  groups: string[];
  /** Sealed by the flow; lets revalidate() ask the provider again later (OIDC refresh token). */
  refreshToken?: string | undefined;
}

export type SsoCompletion =
  | { kind: 'ok'; identity: SsoIdentity }
  /** reason: one sentence for the person signing in and the audit entry, e.g. "The ID token was issued for another application." */
  | { kind: 'refused'; reason: string };

/** Result of asking the provider whether a signed-in subject is still allowed. */
export type SsoRevalidation =
  | { kind: 'valid'; refreshToken?: string | undefined }
  | { kind: 'refused'; reason: string }
  /** The protocol cannot ask without the browser (SAML): the session ends at its revalidation time. */
  | { kind: 'unsupported' };

/** A message at a provider's single logout URL (`/sso/logout/<provider>`), as received. */
export interface SsoLogoutMessage {
  method: 'GET' | 'POST';
  query: Record<string, string>;
  /** The query string as sent (still URL-encoded): a redirect binding's signature covers it. */
  rawQuery: string;
  form: Record<string, string>;
}

export type SsoLogoutOutcome =
  /** The provider asks to end `subject`'s sessions; then send the browser to `answerUrl` (or nowhere). */
  | { kind: 'request'; subject: string; answerUrl: string | null }
  /** The provider's answer to our own logout request: nothing left to do here. */
  | { kind: 'response' }
  | { kind: 'refused'; reason: string };

export interface SsoProtocol {
  readonly name: SsoProtocolName;
  /**
   * Checks and normalizes what an administrator typed (form fields or API JSON, as strings).
   * `previousSecrets`: the stored secrets, kept for a secret field left blank (secrets are write-only).
   * Throws ValidationError (core/errors.ts) with one message per field.
   */
  parseSettings(
    input: Record<string, string>,
    previousSecrets: Record<string, string> | null,
    context: Pick<SsoContext, 'allowLoopback'>,
  ): Promise<{ preset: string; settings: Record<string, unknown>; secrets: Record<string, string> }>;
  /** Settings shown on the page and in the API (never secrets; a secret shows only as "set"). */
  describeSettings(provider: SsoProviderView): Record<string, unknown>;
  startSignIn(provider: SsoProviderView, pending: SsoPendingView, context: SsoContext): Promise<SsoStart>;
  completeSignIn(
    provider: SsoProviderView,
    callback: SsoCallback,
    pending: SsoPendingView,
    context: SsoContext,
  ): Promise<SsoCompletion>;
  /** The service provider's metadata document for this provider (SAML), served at `serviceProviderId`. */
  metadata?(provider: SsoProviderView, context: SsoContext): Promise<string>;
  /** Single logout: where to send the browser so `subject` is signed out at the provider too (null: nowhere). */
  signOutUrl?(provider: SsoProviderView, subject: string, context: SsoContext): Promise<string | null>;
  /** Single logout started by the provider: checks its message; never throws for a bad one. */
  receiveLogout?(provider: SsoProviderView, message: SsoLogoutMessage, context: SsoContext): Promise<SsoLogoutOutcome>;
  /** Called when an SSO session reaches its revalidation time (every session idle period). */
  revalidate(provider: SsoProviderView, refreshToken: string | null, context: SsoContext): Promise<SsoRevalidation>;
}
