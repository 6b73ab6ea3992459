// The PSA integrations above an account, seen from below: a customer account's Settings ›
// Integrations lists the PSA integrations of the partners and distributors above it (which cover
// it) with the company it is mapped to, and a portal's Accounts list maps ticked accounts in
// bulk. Who may change a mapping: whoever may manage the integration's owner (the "Manage
// integrations" permission, and the owner within the caller's reach) — the partner's people
// working inside the account, not the account's own administrators, who see it read-only.
import type { EntityManager } from '@mikro-orm/core';
import { canReach, hasPermission, type Principal } from '../access/principal.ts';
import type { AuditActor } from '../audit/audit-service.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { ancestorIds } from '../tenancy/organizations.ts';
import { ACCESS_REMOVED_LABEL } from '../tenancy/partner-access.ts';
import { IntegrationSendError } from './contract.ts';
import { type IIntegration, Integration, IntegrationCompany } from './entities.ts';
import { integrationSecret } from './integrations.ts';
import { INTEGRATION_KINDS, integrationKind } from './kinds.ts';
import type { PsaCompany } from './psa.ts';
import { checkedCompany, type PsaAccess, psaClientFor, psaClientOf, storeMapping } from './psa-companies.ts';

const psaKinds = () => INTEGRATION_KINDS.filter((k) => k.psa).map((k) => k.id);

/** The owner of an integration (populated by the finders below). */
export const ownerOf = (i: IIntegration) => i.organization as IOrganization;

/**
 * The PSA integrations that cover `org`'s customer accounts from `org` or above it, the nearest
 * owner first; `own: false` leaves out `org`'s own.
 */
export async function psaIntegrationsCovering(
  em: EntityManager,
  org: IOrganization,
  options: { own: boolean },
): Promise<IIntegration[]> {
  const owners = ancestorIds(org).filter((id) => options.own || id !== org.id);
  if (owners.length === 0) return [];
  // Most trees have no PSA integration: a plain look first spares the populated query (the
  // Accounts page asks on every request).
  const kinds = psaKinds();
  if (kinds.length === 0) return [];
  const any = await em
    .getConnection()
    .execute(
      `select 1 from integrations where organization_id in (${owners.map(() => '?').join(', ')}) and kind in (${kinds.map(() => '?').join(', ')}) limit 1`,
      [...owners, ...kinds],
      'all',
    );
  if (any.length === 0) return [];
  const found = await em.find(
    Integration,
    { organization: { $in: owners }, kind: { $in: kinds } },
    { populate: ['organization'], orderBy: { createdAt: 'asc', id: 'asc' } },
  );
  return found.sort((a, b) => ownerOf(b).path.length - ownerOf(a).path.length);
}

/** Whether the principal may change what the integration maps (it may manage its owner). */
export function mayMapCompanies(principal: Principal, i: IIntegration): boolean {
  return hasPermission(principal, 'manage_integrations') && canReach(principal, ownerOf(i));
}

/** A PSA integration of `org` or of an organization above it; anything else reads as missing. */
export async function findPsaIntegrationCovering(
  em: EntityManager,
  org: IOrganization,
  id: string,
): Promise<IIntegration> {
  const found = id && id.length <= 36 ? await em.findOne(Integration, { id }, { populate: ['organization'] }) : null;
  if (!found || !integrationKind(found.kind)?.psa || !ancestorIds(org).includes(ownerOf(found).id)) {
    throw new NotFoundError('No such integration.');
  }
  return found;
}

/** The PSA integrations a portal's bulk mapping offers: its own and those above it the principal may manage. */
export async function bulkMappingChoices(
  em: EntityManager,
  principal: Principal,
  portal: IOrganization,
): Promise<{ id: string; label: string }[]> {
  if (!hasPermission(principal, 'manage_integrations')) return [];
  const integrations = await psaIntegrationsCovering(em, portal, { own: true });
  return integrations
    .filter((i) => mayMapCompanies(principal, i))
    .map((i) => {
      const kind = integrationKind(i.kind);
      const owner = ownerOf(i).id === portal.id ? '' : ` (${ownerOf(i).name})`;
      return { id: i.id, label: `${kind?.label ?? i.kind} · ${kind ? kind.target(i.settings as never) : ''}${owner}` };
    });
}

export interface InheritedMapping {
  /** Its kind only: the owner's settings (user names, queues) are not the account's to read. */
  integration: { id: string; label: string };
  owner: { id: string; name: string };
  company: PsaCompany | null;
  defaultCompanyId: string | null;
  editable: boolean;
}

/** The account's company in each PSA integration above it, and whether the principal may change it. */
export async function inheritedMappings(
  em: EntityManager,
  principal: Principal,
  account: IOrganization,
): Promise<InheritedMapping[]> {
  if (account.kind !== 'customer') return [];
  const integrations = await psaIntegrationsCovering(em, account, { own: false });
  if (integrations.length === 0) return [];
  const rows = await em.find(IntegrationCompany, {
    account: account.id,
    integration: { $in: integrations.map((i) => i.id) },
  });
  const byIntegration = new Map(rows.map((r) => [r.integration.id, r]));
  return integrations.map((i) => {
    const kind = integrationKind(i.kind);
    const row = byIntegration.get(i.id);
    const defaultCompanyId = i.settings.defaultCompanyId;
    return {
      integration: { id: i.id, label: kind?.label ?? i.kind },
      owner: { id: ownerOf(i).id, name: ownerOf(i).name },
      company: row ? { id: row.companyId, name: row.companyName } : null,
      defaultCompanyId: typeof defaultCompanyId === 'string' && defaultCompanyId ? defaultCompanyId : null,
      editable: mayMapCompanies(principal, i),
    };
  });
}

export interface CompanySearch {
  companies: PsaCompany[];
  /** The PSA's refusal or silence, as a sentence; null when it answered. */
  error: string | null;
}

/** The PSA's own companies whose name contains `q`, asked with the integration's credentials. */
export async function searchPsaCompanies(
  em: EntityManager,
  cipher: CredentialCipher,
  i: IIntegration,
  q: string,
  options: { allowPrivate: boolean; now: Date },
): Promise<CompanySearch> {
  try {
    const client = psaClientOf(i, {
      integrationId: i.id,
      organizationId: i.organization.id,
      settings: i.settings,
      secret: integrationSecret(cipher, i),
      allowPrivate: options.allowPrivate,
      em,
      now: options.now,
    });
    return { companies: await client.companies(q), error: null };
  } catch (err) {
    if (!(err instanceof IntegrationSendError)) throw err;
    return { companies: [], error: err.message };
  }
}

export interface BulkMapping {
  done: string[];
  skipped: { name: string; reason: string }[];
}

/**
 * Maps each ticked account to one company, checked against the PSA once first (each audited as
 * "Integration changed" by storeMapping). Partners and distributors have no company of their own, and a customer that
 * removed its partners' access is skipped as the other bulk actions skip it; both are said.
 */
export async function mapAccountsToCompany(
  em: EntityManager,
  principal: Principal,
  i: IIntegration,
  accounts: IOrganization[],
  companyId: string,
  access: PsaAccess,
  actor: AuditActor,
  now: Date,
): Promise<BulkMapping & { company: PsaCompany }> {
  if (!companyId.trim()) throw new ValidationError({ companyId: 'Choose a company from the PSA’s list.' });
  const company = await checkedCompany(i, psaClientFor(em, i, access, now), companyId);
  const outcome: BulkMapping & { company: PsaCompany } = { done: [], skipped: [], company };
  for (const account of accounts) {
    if (account.kind !== 'customer') {
      outcome.skipped.push({ name: account.name, reason: 'only customer accounts have a company; map its accounts' });
    } else if (!canReach(principal, account)) {
      outcome.skipped.push({ name: account.name, reason: ACCESS_REMOVED_LABEL });
    } else {
      await storeMapping(em, ownerOf(i), i, account, company, actor, now);
      outcome.done.push(account.name);
    }
  }
  return outcome;
}
