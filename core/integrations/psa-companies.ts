// A PSA integration's company mapping: which company in the PSA each customer account's tickets
// go to. The accounts are those the integration covers (the account itself, or every customer
// account under a portal); a company is picked from the PSA's own list (a search against it),
// checked against the PSA when it is saved (an id it does not have, or a PSA that cannot be
// asked, saves nothing), stored per account under the PSA's own name for it, and audited as
// "Integration changed" in the owner's log and — a partner acting on a customer's account, like
// "Partner access removed" and the bulk task actions — in the account's own log as well.
// Unmapped accounts go to the integration's default company when it has one, otherwise their
// failures open no ticket.
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { containsText } from '../db/text-search.ts';
import { AppError, NotFoundError, ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { IntegrationSendError, type SendTarget } from './contract.ts';
import { type IIntegration, IntegrationCompany } from './entities.ts';
import { integrationSecret } from './integrations.ts';
import { integrationKind } from './kinds.ts';
import type { PsaClient, PsaCompany } from './psa.ts';

/** The most accounts one mapping page lists (filter by name to reach the others). */
export const MAPPING_PAGE = 200;

export interface AccountMapping {
  account: { id: string; name: string };
  company: PsaCompany | null;
}

/** Whether the integration is a PSA (has companies to map). */
export function isPsa(i: IIntegration): boolean {
  return !!integrationKind(i.kind)?.psa;
}

/** 404 for an integration whose kind has no companies to map. */
export function requirePsa(i: IIntegration): void {
  if (!isPsa(i)) throw new NotFoundError('This integration has no company mapping.');
}

export function psaClientOf(i: IIntegration, target: SendTarget<Record<string, unknown>>): PsaClient {
  const kind = integrationKind(i.kind);
  if (!kind?.psa) throw new NotFoundError('This integration has no company mapping.');
  return kind.psa(target);
}

/** How to ask the PSA: the cipher that opens the integration's secret, and the SSRF rule's choice. */
export interface PsaAccess {
  cipher: CredentialCipher;
  allowPrivate: boolean;
}

/** The integration's PSA client, with its secret opened. */
export function psaClientFor(em: EntityManager, i: IIntegration, access: PsaAccess, now: Date): PsaClient {
  return psaClientOf(i, {
    integrationId: i.id,
    organizationId: i.organization.id,
    settings: i.settings,
    secret: integrationSecret(access.cipher, i),
    allowPrivate: access.allowPrivate,
    em,
    now,
  });
}

/** The PSA could not be asked whether a company exists (502 in the API, a banner on a page). */
export class PsaUnavailableError extends AppError {
  constructor(message: string) {
    super('psa_unavailable', message, 502);
    this.name = 'PsaUnavailableError';
  }
}

/** The PSA's active company with this id; a field error when it has none. */
export async function checkedCompany(i: IIntegration, client: PsaClient, companyId: string): Promise<PsaCompany> {
  const id = companyId.trim();
  // Both PSAs number their companies (as the default company's field says).
  if (!/^\d{1,18}$/.test(id)) throw new ValidationError({ companyId: 'Choose a company from the PSA’s list.' });
  let found: PsaCompany | null;
  try {
    found = await client.company(id);
  } catch (err) {
    if (!(err instanceof IntegrationSendError)) throw err;
    throw new PsaUnavailableError(`The company could not be checked: ${err.message}`);
  }
  if (!found) {
    const label = integrationKind(i.kind)?.label ?? i.kind;
    throw new ValidationError({
      companyId: `${label} has no active company with the id ${id}. Choose one from its list.`,
    });
  }
  return { id: found.id, name: found.name.slice(0, 300) };
}

/** "Integration changed" in the owner's log, and in the account's when the owner is above it. */
async function auditMapping(
  em: EntityManager,
  owner: IOrganization,
  i: IIntegration,
  account: IOrganization,
  what: string,
  actor: AuditActor,
) {
  const label = integrationKind(i.kind)?.label ?? i.kind;
  await recordAudit(em, {
    organization: owner,
    activity: 'Integration changed',
    account: account.name,
    description: `${label} company of ${account.name}${what}`,
    actor,
  });
  if (account.id === owner.id) return;
  await recordAudit(em, {
    organization: account,
    activity: 'Integration changed',
    account: account.name,
    description: `${label} company of ${account.name} (integration of ${owner.name})${what}`,
    actor,
  });
}

/** The customer accounts an integration of `owner` covers, by name (optionally filtered). */
export async function coveredAccounts(em: EntityManager, owner: IOrganization, filter = ''): Promise<IOrganization[]> {
  if (owner.kind === 'customer') return [owner];
  const name = filter.trim();
  return em.find(
    Organization,
    {
      kind: 'customer',
      path: { $like: `${owner.path}%` },
      // Folded on both sides with an explicit escape: `$like` is case-sensitive on PostgreSQL and
      // SQLite has no default escape character.
      ...(name ? containsText('name', name) : {}),
    },
    { orderBy: { name: 'asc', id: 'asc' }, limit: MAPPING_PAGE },
  );
}

export async function companyMappings(
  em: EntityManager,
  owner: IOrganization,
  i: IIntegration,
  filter = '',
): Promise<AccountMapping[]> {
  const accounts = await coveredAccounts(em, owner, filter);
  const rows = await em.find(IntegrationCompany, { integration: i.id, account: { $in: accounts.map((a) => a.id) } });
  const byAccount = new Map(rows.map((r) => [r.account.id, r]));
  return accounts.map((a) => {
    const row = byAccount.get(a.id);
    return {
      account: { id: a.id, name: a.name },
      company: row ? { id: row.companyId, name: row.companyName } : null,
    };
  });
}

/** One account the integration covers; another tenant's reads as missing. */
export async function coveredAccount(
  em: EntityManager,
  owner: IOrganization,
  accountId: string,
): Promise<IOrganization> {
  const account = accountId ? await em.findOne(Organization, { id: accountId, kind: 'customer' }) : null;
  if (!account || !(account.id === owner.id || account.path.startsWith(owner.path))) {
    throw new NotFoundError('No such account.');
  }
  return account;
}

/** Maps the account to a company the PSA has (checked first); returns it as the PSA names it. */
export async function mapCompany(
  em: EntityManager,
  owner: IOrganization,
  i: IIntegration,
  accountId: string,
  companyId: string,
  access: PsaAccess,
  actor: AuditActor,
  now: Date,
): Promise<PsaCompany> {
  const account = await coveredAccount(em, owner, accountId);
  const company = await checkedCompany(i, psaClientFor(em, i, access, now), companyId);
  await storeMapping(em, owner, i, account, company, actor, now);
  return company;
}

/** Saves and audits a mapping to a company already checked against the PSA. */
export async function storeMapping(
  em: EntityManager,
  owner: IOrganization,
  i: IIntegration,
  account: IOrganization,
  company: PsaCompany,
  actor: AuditActor,
  now: Date,
): Promise<void> {
  const { id, name } = company;
  const existing = await em.findOne(IntegrationCompany, { integration: i.id, account: account.id });
  if (existing) Object.assign(existing, { companyId: id, companyName: name.slice(0, 300), updatedAt: now });
  else
    em.create(IntegrationCompany, {
      integration: i,
      account,
      companyId: id,
      companyName: name.slice(0, 300),
      updatedAt: now,
    });
  await em.flush();
  await auditMapping(em, owner, i, account, `: ${name} (id ${id})`, actor);
}

export async function unmapCompany(
  em: EntityManager,
  owner: IOrganization,
  i: IIntegration,
  accountId: string,
  actor: AuditActor,
): Promise<void> {
  const account = await coveredAccount(em, owner, accountId);
  const removed = await em.nativeDelete(IntegrationCompany, { integration: i.id, account: account.id });
  if (removed === 0) return;
  await auditMapping(em, owner, i, account, ' removed', actor);
}
