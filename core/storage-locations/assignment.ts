// Which location an organization's backups go to. Resolution: the organization's own choice,
// else the default for new accounts of the nearest organization above it, else the built-in
// location. A portal's default applies to accounts without a choice of their own; accounts added
// from the portal form get the chosen location recorded as their own. Once an organization has
// backups (a repository with snapshots in the catalog) its location is fixed; attaching its first
// repository records the location as its own choice, so later default changes never move it.
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { CatalogSnapshot } from '../catalog/entities.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { BackupTask } from '../tasks/entities.ts';
import { ancestorIds, CHILD_KINDS } from '../tenancy/organizations.ts';
import {
  type IOrganizationStorage,
  type IStorageLocation,
  OrganizationStorage,
  StorageRepository,
} from './entities.ts';
import { ensureBuiltinLocation, findAvailableLocation } from './locations.ts';

export type LocationSource = 'own' | 'inherited' | 'builtin';

export interface ResolvedLocation {
  location: IStorageLocation;
  /** own: chosen for this organization; inherited: a default from above; builtin: nothing chosen anywhere. */
  source: LocationSource;
  /** The organization whose default applies (for 'inherited'). */
  from: IOrganization | null;
}

async function choicesOf(em: EntityManager, ids: string[]): Promise<Map<string, IOrganizationStorage>> {
  const rows = await em.find(
    OrganizationStorage,
    { organization: { $in: ids } },
    { populate: ['location', 'defaultForNewAccounts', 'organization'] },
  );
  return new Map(rows.map((r) => [(r.organization as IOrganization).id, r]));
}

async function builtin(em: EntityManager): Promise<IStorageLocation> {
  const location = await ensureBuiltinLocation(em);
  if (!location) throw new Error('the built-in storage location needs the root organization (run setup first)');
  return location;
}

/** Where the organization's backups go. */
export async function resolveLocation(em: EntityManager, org: IOrganization): Promise<ResolvedLocation> {
  const ids = ancestorIds(org);
  const choices = await choicesOf(em, ids);
  const own = choices.get(org.id)?.location as IStorageLocation | null | undefined;
  if (own) return { location: own, source: 'own', from: null };
  for (const id of ids.slice(0, -1).reverse()) {
    const row = choices.get(id);
    const location = row?.defaultForNewAccounts as IStorageLocation | null | undefined;
    if (row && location) return { location, source: 'inherited', from: row.organization as IOrganization };
  }
  return { location: await builtin(em), source: 'builtin', from: null };
}

/** What an account added under this portal gets unless another location is chosen. */
export async function defaultForNewAccounts(em: EntityManager, portal: IOrganization): Promise<ResolvedLocation> {
  const ids = ancestorIds(portal);
  const choices = await choicesOf(em, ids);
  for (const id of [...ids].reverse()) {
    const row = choices.get(id);
    const location = row?.defaultForNewAccounts as IStorageLocation | null | undefined;
    if (row && location) {
      const from = row.organization as IOrganization;
      return { location, source: from.id === portal.id ? 'own' : 'inherited', from };
    }
  }
  return { location: await builtin(em), source: 'builtin', from: null };
}

/** Backups of the organization: catalogued snapshots, plus tasks that committed a snapshot somewhere. */
export async function backupsOf(em: EntityManager, org: IOrganization): Promise<number> {
  const links = await em.find(StorageRepository, { organization: org.id });
  const snapshots =
    links.length === 0
      ? 0
      : await em.count(CatalogSnapshot, { repository: { $in: links.map((l) => (l.repository as { id: string }).id) } });
  return snapshots + (await em.count(BackupTask, { organization: org.id, storageLocation: { $ne: null } }));
}

/** Records the location as the organization's own choice if it has none (its backups start there). */
export async function pinOrganizationLocation(
  em: EntityManager,
  org: IOrganization,
  location: IStorageLocation,
): Promise<IStorageLocation> {
  await ensureRow(em, org);
  // Only the first backup pins: the first runs of two tasks of an account may start together,
  // and the one that comes second keeps what the first one pinned.
  await em.nativeUpdate(OrganizationStorage, { organization: org.id, location: null }, { location: location.id });
  const row = await em.fork().findOneOrFail(OrganizationStorage, { organization: org.id }, { populate: ['location'] });
  return row.location ?? location;
}

/** Creates the organization's row unless it exists: concurrent callers never collide. */
async function ensureRow(em: EntityManager, org: IOrganization): Promise<void> {
  await (em as SqlEntityManager)
    .createQueryBuilder(OrganizationStorage)
    .insert({ organization: org.id, location: null, defaultForNewAccounts: null, updatedAt: new Date() })
    .onConflict(['organization'])
    .ignore()
    .execute();
}

async function rowFor(em: EntityManager, org: IOrganization): Promise<IOrganizationStorage> {
  await ensureRow(em, org);
  return em.findOneOrFail(OrganizationStorage, { organization: org.id });
}

/**
 * Sets (or with null, clears) the organization's own location. Refused once it has backups
 * unless the location stays the same.
 */
export async function setOrganizationLocation(
  em: EntityManager,
  org: IOrganization,
  locationId: string | null,
  actor: AuditActor | null,
): Promise<ResolvedLocation> {
  const location = locationId ? await availableOrFieldError(em, org, locationId, 'location') : null;
  const current = await resolveLocation(em, org);
  const next = location ?? (await resolveWithout(em, org));
  if (next.id !== current.location.id && (await backupsOf(em, org)) > 0) {
    throw new ConflictError(
      'storage_fixed',
      `Backups of ${org.name} are kept at ${current.location.name}; the storage location cannot change once backups exist.`,
    );
  }
  const row = await rowFor(em, org);
  const before = (row.location as IStorageLocation | null)?.id ?? null;
  row.location = location;
  await em.flush();
  if (actor && before !== (location?.id ?? null)) {
    await recordAudit(em, {
      organization: org,
      activity: 'Storage location changed',
      account: org.name,
      description: location
        ? `Backups of ${org.name} go to ${location.name}`
        : `Backups of ${org.name} follow the default (${next.name})`,
      actor,
    });
  }
  return resolveLocation(em, org);
}

/** Sets (or clears) the location a portal gives the accounts added under it. */
export async function setDefaultForNewAccounts(
  em: EntityManager,
  portal: IOrganization,
  locationId: string | null,
  actor: AuditActor,
): Promise<ResolvedLocation> {
  if (CHILD_KINDS[portal.kind].length === 0) {
    throw new ValidationError({
      defaultForNewAccounts: 'Only a portal adds accounts, so only a portal has this default.',
    });
  }
  const location = locationId ? await availableOrFieldError(em, portal, locationId, 'defaultForNewAccounts') : null;
  const row = await rowFor(em, portal);
  const before = (row.defaultForNewAccounts as IStorageLocation | null)?.id ?? null;
  row.defaultForNewAccounts = location;
  await em.flush();
  const now = await defaultForNewAccounts(em, portal);
  if (before !== (location?.id ?? null)) {
    await recordAudit(em, {
      organization: portal,
      activity: 'Storage location changed',
      account: portal.name,
      description: `New accounts under ${portal.name} get ${now.location.name}${location ? '' : ' (inherited default)'}`,
      actor,
    });
  }
  return now;
}

/**
 * Records that a catalogued repository of the organization lives at the location (for the backup
 * jobs): the location becomes the organization's own choice if it had none, so it stays fixed.
 */
export async function attachRepository(
  em: EntityManager,
  repositoryId: string,
  org: IOrganization,
  location: IStorageLocation,
): Promise<void> {
  em.create(StorageRepository, { repository: repositoryId, organization: org, location });
  await em.flush();
  await pinOrganizationLocation(em, org, location);
}

/** Organizations whose own choice or default is this location (deleting it is refused then). */
export async function organizationsUsing(em: EntityManager, location: IStorageLocation): Promise<IOrganization[]> {
  const rows = await em.find(
    OrganizationStorage,
    { $or: [{ location: location.id }, { defaultForNewAccounts: location.id }] },
    { populate: ['organization'] },
  );
  return rows.map((r) => r.organization as IOrganization);
}

async function availableOrFieldError(
  em: EntityManager,
  org: IOrganization,
  id: string,
  field: string,
): Promise<IStorageLocation> {
  try {
    return await findAvailableLocation(em, org, id);
  } catch {
    throw new ValidationError({ [field]: `Choose a storage location available to ${org.name}.` });
  }
}

/** Where the organization would go without its own choice. */
async function resolveWithout(em: EntityManager, org: IOrganization): Promise<IStorageLocation> {
  const parent = org.parent as IOrganization | null | undefined;
  if (!parent) return builtin(em);
  const full = await em.findOneOrFail(Organization, { id: parent.id });
  return (await defaultForNewAccounts(em, full)).location;
}
