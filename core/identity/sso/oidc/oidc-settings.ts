// What an administrator types for an OpenID Connect provider, by preset: Microsoft Entra ID
// (a tenant id → its v2.0 issuer), Google Workspace (Google's issuer, the hosted domain checked
// in the `hd` claim), Okta (the org's URL, optionally an authorization server), or any issuer.
// Issuers must be https; plain http only on loopback and only when the operator allows it.
import { ValidationError } from '../../../errors.ts';

export const OIDC_PRESETS = ['entra', 'google', 'okta', 'oidc'] as const;
export type OidcPreset = (typeof OIDC_PRESETS)[number];

export const OIDC_PRESET_LABELS: Record<OidcPreset, string> = {
  entra: 'Microsoft',
  google: 'Google',
  okta: 'Okta',
  oidc: 'OpenID Connect',
};

export interface OidcSettings {
  issuer: string;
  clientId: string;
  scopes: string[];
  /** Entra ID: the directory (tenant) id or a verified domain of the tenant. */
  tenantId?: string;
  /** Google Workspace: the `hd` claim every ID token must carry. */
  hostedDomain?: string;
  /** The claim holding the user's groups (Okta and Entra: `groups`). */
  groupsClaim: string;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** An issuer URL that may be used, or the message that says why not. */
export function issuerProblem(issuer: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'Enter the issuer as a full URL, e.g. https://idp.example.com.';
  }
  if (url.search || url.hash) return 'The issuer URL has no query or fragment.';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && allowLoopback && LOOPBACK_HOSTS.has(url.hostname)) return null;
  return 'The issuer must use https:// (plain http is allowed only on loopback, when the operator sets HOLDFAST_SSO_ALLOW_LOOPBACK).';
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const TENANT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function parseOidcSettings(
  input: Record<string, string>,
  allowLoopback: boolean,
): { preset: OidcPreset; settings: OidcSettings } {
  const errors: Record<string, string> = {};
  const preset = (input.preset ?? 'oidc').trim() as OidcPreset;
  if (!OIDC_PRESETS.includes(preset))
    errors.preset = 'Choose Microsoft Entra ID, Google Workspace, Okta or OpenID Connect.';
  const clientId = (input.clientId ?? '').trim();
  if (!clientId) errors.clientId = 'Enter the client (application) id the identity provider gave you.';
  else if (clientId.length > 300) errors.clientId = 'The client id is at most 300 characters.';
  const settings: OidcSettings = { issuer: '', clientId, scopes: [], groupsClaim: 'groups' };
  if (preset === 'entra') {
    const tenant = (input.tenantId ?? '').trim().toLowerCase();
    if (!TENANT.test(tenant) && !DOMAIN.test(tenant)) {
      errors.tenantId = 'Enter the directory (tenant) id, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47.';
    }
    settings.tenantId = tenant;
    settings.issuer = `https://login.microsoftonline.com/${tenant}/v2.0`;
  } else if (preset === 'google') {
    const hd = (input.hostedDomain ?? '').trim().toLowerCase();
    if (!DOMAIN.test(hd)) errors.hostedDomain = 'Enter your Google Workspace domain, e.g. example.com.';
    settings.hostedDomain = hd;
    settings.issuer = 'https://accounts.google.com';
  } else {
    const issuer = (input.issuer ?? '').trim().replace(/\/+$/, '');
    const problem = issuer
      ? issuerProblem(issuer, allowLoopback)
      : preset === 'okta'
        ? 'Enter your Okta URL, e.g. https://example.okta.com (or its authorization server, …/oauth2/default).'
        : 'Enter the issuer URL of the identity provider.';
    if (problem) errors.issuer = problem;
    settings.issuer = issuer;
  }
  const scopeText = (input.scopes ?? '').trim();
  const scopes = scopeText ? scopeText.split(/[\s,]+/).filter(Boolean) : defaultScopes(preset);
  if (!scopes.includes('openid')) scopes.unshift('openid');
  if (scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/.test(s)))
    errors.scopes = 'Scopes are words separated by spaces.';
  settings.scopes = scopes;
  const groupsClaim = (input.groupsClaim ?? '').trim() || 'groups';
  if (!/^[A-Za-z0-9_:./-]{1,100}$/.test(groupsClaim)) errors.groupsClaim = 'Enter a claim name, e.g. groups.';
  settings.groupsClaim = groupsClaim;
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return { preset, settings };
}

/** `offline_access` asks for a refresh token: how a session is revalidated at every idle period. */
function defaultScopes(preset: OidcPreset): string[] {
  if (preset === 'google') return ['openid', 'email', 'profile'];
  if (preset === 'okta') return ['openid', 'email', 'profile', 'groups', 'offline_access'];
  return ['openid', 'email', 'profile', 'offline_access'];
}
