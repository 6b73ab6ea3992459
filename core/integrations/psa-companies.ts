// A PSA integration's company mapping: which company in the PSA each customer account's tickets
// go to. The accounts are those the integration covers (the account itself, or every customer
// account under a portal); a company is picked from the PSA's own list (a search against it),
// stored per account, audited as "Integration changed". Unmapped accounts go to the
// integration's default company when it has one, otherwise their failures open no ticket.
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import type { SendTarget } from './contract.ts';
import { type IIntegration, IntegrationCompany } from './entities.ts';
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

/** The customer accounts an integration of `owner` covers, by name (optionally filtered). */
export async function coveredAccounts(em: EntityManager, owner: IOrganization, filter = ''): Promise<IOrganization[]> {
  if (owner.kind === 'customer') return [owner];
  const name = filter.trim();
  return em.find(
    Organization,
    {
      kind: 'customer',
      path: { $like: `${owner.path}%` },
      ...(name ? { name: { $like: `%${name.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` } } : {}),
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

export async function mapCompany(
  em: EntityManager,
  owner: IOrganization,
  i: IIntegration,
  accountId: string,
  company: { id: string; name: string },
  actor: AuditActor,
  now: Date,
): Promise<void> {
  const account = await coveredAccount(em, owner, accountId);
  const id = company.id.trim();
  const name = company.name.trim() || id;
  if (!id || id.length > 100) throw new ValidationError({ companyId: 'Choose a company from the PSA’s list.' });
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
  await recordAudit(em, {
    organization: owner,
    activity: 'Integration changed',
    account: account.name,
    description: `${integrationKind(i.kind)?.label ?? i.kind} company of ${account.name}: ${name} (id ${id})`,
    actor,
  });
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
  await recordAudit(em, {
    organization: owner,
    activity: 'Integration changed',
    account: account.name,
    description: `${integrationKind(i.kind)?.label ?? i.kind} company of ${account.name} removed`,
    actor,
  });
}
