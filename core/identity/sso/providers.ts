// An organization's identity providers: created, changed and removed by its administrators.
// Secrets are sealed with the credential cipher (bound to the provider's id) and never read
// back out to pages or the API; a secret left blank on a change keeps the stored one.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { NotFoundError, ValidationError } from '../../errors.ts';
import type { CredentialCipher } from '../../secrets/credential-cipher.ts';
import { type IOrganization, Session, type UserRole } from '../entities.ts';
import { PERMISSIONS, type Permission } from '../permissions.ts';
import { type ISsoProvider, type SsoGroupRule, SsoProvider } from './entities.ts';
import { SSO_PROTOCOLS, type SsoProtocolName, type SsoProviderView } from './protocol.ts';
import { ssoProtocol } from './protocols.ts';

export const PRESET_LABELS: Record<string, string> = {
  entra: 'Microsoft',
  google: 'Google',
  okta: 'Okta',
  oidc: 'OpenID Connect',
  saml: 'SAML',
};

const secretContext = (id: string) => `sso-provider:${id}`;

/** Ends every session begun through this provider (disabled or removed). */
export async function endProviderSessions(em: EntityManager, providerId: string): Promise<number> {
  return em.nativeDelete(Session, { ssoProviderId: providerId });
}

export function providerView(provider: ISsoProvider, cipher: CredentialCipher): SsoProviderView {
  return {
    id: provider.id,
    organizationId: (provider.organization as IOrganization).id,
    protocol: provider.protocol,
    preset: provider.preset,
    settings: provider.settings,
    secrets: provider.secretsSealed
      ? (JSON.parse(cipher.decrypt(provider.secretsSealed, secretContext(provider.id))) as Record<string, string>)
      : {},
  };
}

export interface ProviderInput {
  protocol?: string;
  name?: string;
  enabled?: boolean;
  jitEnabled?: boolean;
  jitRole?: string;
  jitPermissions?: string[];
  /** One rule a line: "<group> = administrator" or "<group> = view_backups, restore". */
  groupRules?: string;
  /** The protocol's own fields (strings, as typed). */
  settings: Record<string, string>;
}

function parseRole(role: string | undefined, errors: Record<string, string>, field: string): UserRole {
  if (role === undefined || role === '' || role === 'custom') return 'custom';
  if (role === 'administrator') return 'administrator';
  errors[field] = 'Choose Administrator or Custom.';
  return 'custom';
}

function parsePermissions(names: string[], errors: Record<string, string>, field: string): Permission[] {
  const known = PERMISSIONS as readonly string[];
  const bad = names.filter((n) => !known.includes(n));
  if (bad.length > 0) errors[field] = `Unknown permission: ${bad.join(', ')}.`;
  return names.filter((n): n is Permission => known.includes(n));
}

export function parseGroupRules(text: string, errors: Record<string, string>): SsoGroupRule[] {
  const rules: SsoGroupRule[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.lastIndexOf('=');
    const group = at > 0 ? line.slice(0, at).trim() : '';
    const grant = at > 0 ? line.slice(at + 1).trim() : '';
    if (!group || !grant) {
      errors.groupRules = `Line ${index + 1}: write "<group> = administrator" or "<group> = <permission>, <permission>".`;
      continue;
    }
    if (grant === 'administrator') rules.push({ group, role: 'administrator', permissions: [] });
    else {
      const permissions = parsePermissions(grant.split(/[\s,]+/).filter(Boolean), errors, 'groupRules');
      rules.push({ group, role: 'custom', permissions });
    }
  }
  if (rules.length > 50) errors.groupRules = 'At most 50 group rules.';
  return rules;
}

export function groupRulesText(rules: SsoGroupRule[]): string {
  return rules
    .map((r) => `${r.group} = ${r.role === 'administrator' ? 'administrator' : r.permissions.join(', ')}`)
    .join('\n');
}

export async function listProviders(em: EntityManager, org: IOrganization): Promise<ISsoProvider[]> {
  return em.find(SsoProvider, { organization: org.id }, { orderBy: { createdAt: 'asc' } });
}

/** The organization's provider, or a 404 (another organization's provider does not exist here). */
export async function providerOf(em: EntityManager, org: IOrganization, id: string): Promise<ISsoProvider> {
  const provider = await em.findOne(SsoProvider, { id, organization: org.id });
  if (!provider) throw new NotFoundError('No such identity provider.');
  return provider;
}

/** The provider's columns from what was typed, or every field's error at once. */
async function providerData(
  id: string,
  current: ISsoProvider | null,
  input: ProviderInput,
  cipher: CredentialCipher,
  allowLoopback: boolean,
) {
  const errors: Record<string, string> = {};
  const protocolName = (current ? current.protocol : (input.protocol ?? 'oidc')) as SsoProtocolName;
  const module = SSO_PROTOCOLS.includes(protocolName) ? ssoProtocol(protocolName) : undefined;
  if (!module)
    throw new ValidationError({ protocol: `This appliance does not support the ${String(protocolName)} protocol.` });
  const name = (input.name ?? '').trim();
  if (!name) errors.name = 'Enter the name shown on the sign-in button, e.g. Contoso.';
  else if (name.length > 100) errors.name = 'The name is at most 100 characters.';
  const jitRole = parseRole(input.jitRole, errors, 'jitRole');
  const jitPermissions = parsePermissions(input.jitPermissions ?? [], errors, 'jitPermissions');
  const groupRules = parseGroupRules(input.groupRules ?? '', errors);
  const previous = current ? providerView(current, cipher).secrets : null;
  let parsed: Awaited<ReturnType<typeof module.parseSettings>> | null = null;
  try {
    parsed = await module.parseSettings(input.settings, previous, { allowLoopback });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    Object.assign(errors, error.fields);
  }
  if (Object.keys(errors).length > 0 || !parsed) throw new ValidationError(errors);
  return {
    protocol: protocolName,
    name,
    preset: parsed.preset,
    settings: parsed.settings,
    secretsSealed:
      Object.keys(parsed.secrets).length > 0 ? cipher.encrypt(JSON.stringify(parsed.secrets), secretContext(id)) : null,
    enabled: input.enabled ?? current?.enabled ?? true,
    jitEnabled: input.jitEnabled ?? current?.jitEnabled ?? false,
    jitRole,
    jitPermissions: jitRole === 'administrator' ? [] : jitPermissions,
    groupRules,
  };
}

export async function createProvider(
  em: EntityManager,
  org: IOrganization,
  input: ProviderInput,
  cipher: CredentialCipher,
  allowLoopback: boolean,
): Promise<ISsoProvider> {
  const id = randomUUID();
  const data = await providerData(id, null, input, cipher, allowLoopback);
  const provider = em.create(SsoProvider, { id, organization: org, ...data });
  await em.flush();
  return provider;
}

export async function updateProvider(
  em: EntityManager,
  provider: ISsoProvider,
  input: ProviderInput,
  cipher: CredentialCipher,
  allowLoopback: boolean,
): Promise<void> {
  em.assign(provider, await providerData(provider.id, provider, input, cipher, allowLoopback));
  await em.flush();
  // A disabled provider's sessions end now, as a removed one's do.
  if (!provider.enabled) await endProviderSessions(em, provider.id);
}

export async function deleteProvider(em: EntityManager, provider: ISsoProvider): Promise<void> {
  await endProviderSessions(em, provider.id);
  await em.remove(provider).flush();
}
