// Home-realm discovery: an organization claims its e-mail domains; once a domain is verified,
// the login page sends people whose address ends with it to the organization's identity
// providers. A domain is verified by a DNS TXT record "holdfast-verification=<token>" (asked of
// HOLDFAST_SSO_DNS_SERVERS when set), or by an administrator of the organization signing in
// through its provider with a verified address in that domain. One organization per domain.
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type { EntityManager } from '@mikro-orm/core';
import { ConflictError, ValidationError } from '../../errors.ts';
import type { IOrganization } from '../entities.ts';
import { type ISsoDomain, type ISsoProvider, SsoDomain, SsoProvider } from './entities.ts';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
export const TXT_PREFIX = 'holdfast-verification=';

export function domainOfEmail(email: string): string {
  return (email.split('@')[1] ?? '').trim().toLowerCase().replace(/\.$/, '');
}

export async function listDomains(em: EntityManager, org: IOrganization): Promise<ISsoDomain[]> {
  return em.find(SsoDomain, { organization: org.id }, { orderBy: { domain: 'asc' } });
}

export async function domainOf(em: EntityManager, org: IOrganization, id: string): Promise<ISsoDomain | null> {
  return em.findOne(SsoDomain, { id, organization: org.id });
}

export async function addDomain(em: EntityManager, org: IOrganization, typed: string, now: Date): Promise<ISsoDomain> {
  const domain = typed.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw new ValidationError({ domain: 'Enter a domain name, e.g. example.com.' });
  if (await em.count(SsoDomain, { organization: org.id, domain })) {
    throw new ValidationError({ domain: `${domain} is already listed.` });
  }
  if (await takenElsewhere(em, { domain }, org)) throw takenError(domain);
  const row = em.create(SsoDomain, {
    organization: org,
    domain,
    token: randomBytes(16).toString('hex'),
    verifiedAt: null,
    verifiedBy: null,
    createdAt: now,
  });
  await em.flush();
  return row;
}

function takenError(domain: string): ConflictError {
  return new ConflictError('domain_taken', `${domain} is verified by another organization.`);
}

async function takenElsewhere(em: EntityManager, row: { domain: string }, org: IOrganization): Promise<boolean> {
  return (
    (await em.count(SsoDomain, { domain: row.domain, organization: { $ne: org.id }, verifiedAt: { $ne: null } })) > 0
  );
}

/** Looks the TXT record up; throws a ConflictError saying what was found when it is not there. */
export async function verifyDomainByDns(
  em: EntityManager,
  org: IOrganization,
  row: ISsoDomain,
  dnsServers: readonly string[],
  now: Date,
): Promise<void> {
  if (row.verifiedAt) return;
  if (await takenElsewhere(em, row, org)) throw takenError(row.domain);
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (dnsServers.length > 0) resolver.setServers([...dnsServers]);
  let records: string[];
  try {
    records = (await resolver.resolveTxt(row.domain)).map((chunks) => chunks.join(''));
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    throw new ConflictError('domain_not_verified', `No TXT record found for ${row.domain} (${code}).`);
  }
  if (!records.includes(`${TXT_PREFIX}${row.token}`)) {
    throw new ConflictError(
      'domain_not_verified',
      `${row.domain} has no TXT record "${TXT_PREFIX}${row.token}" yet (DNS changes can take a while).`,
    );
  }
  row.verifiedAt = now;
  row.verifiedBy = 'dns';
  await em.flush();
}

export async function removeDomain(em: EntityManager, row: ISsoDomain): Promise<void> {
  await em.nativeDelete(SsoDomain, { id: row.id });
}

/** After an administrator's SSO sign-in: verifies the listed domain of their address, if free. */
export async function verifyDomainByClaim(
  em: EntityManager,
  org: IOrganization,
  email: string,
  now: Date,
): Promise<string | null> {
  const row = await em.findOne(SsoDomain, { organization: org.id, domain: domainOfEmail(email), verifiedAt: null });
  if (!row || (await takenElsewhere(em, row, org))) return null;
  row.verifiedAt = now;
  row.verifiedBy = 'idp';
  await em.flush();
  return row.domain;
}

/** The enabled providers of the organization that verified the address's domain (none: password). */
export async function providersForEmail(
  em: EntityManager,
  email: string,
): Promise<{ organization: IOrganization; providers: ISsoProvider[] } | null> {
  const domain = domainOfEmail(email);
  if (!domain) return null;
  const row = await em.findOne(SsoDomain, { domain, verifiedAt: { $ne: null } }, { populate: ['organization'] });
  if (!row) return null;
  const organization = row.organization as IOrganization;
  const providers = await em.find(
    SsoProvider,
    { organization: organization.id, enabled: true },
    { orderBy: { createdAt: 'asc' } },
  );
  return { organization, providers };
}
