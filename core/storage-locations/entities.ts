// Storage locations: where backup repositories are kept (a sink plugin's kind and settings),
// owned by an organization. The root's locations serve the whole appliance, a partner's or
// distributor's serve its subtree, an account's own ("bring your own storage") serve only it.
// Secret settings are sealed as one JSON blob with the credential cipher, bound to the row's id.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CatalogRepository } from '../catalog/entities.ts';
import { Organization } from '../identity/entities.ts';

export const StorageLocation = defineEntity({
  name: 'StorageLocation',
  tableName: 'storage_locations',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    /** The owner: who may change it; it and its subtree may use it. */
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    name: p.string().length(200),
    /** The sink plugin's kind (local, s3, azure, gcs). */
    kind: p.string().length(50),
    /** The plugin's settings without its secret ones (those are in sealedSecrets). */
    settings: p.json<Record<string, unknown>>(),
    /** The secret settings as JSON, encrypted with the appliance's credential cipher; null: none. */
    sealedSecrets: p.text().nullable().hidden(),
    /** The embedded default (local disk at the storage folder of the configuration): fixed. */
    builtin: p.boolean().default(false),
    /** Where it is, without secrets (e.g. "s3:bucket/prefix"), as the last connection test saw it. */
    description: p.string().length(1000).nullable(),
    lastTestedAt: p.datetime().nullable(),
    lastTestOk: p.boolean().nullable(),
    /** The connection test's one sentence and its detail (step and the store's message). */
    lastTestSentence: p.string().length(1000).nullable(),
    lastTestDetail: p.string().length(2000).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  uniques: [{ properties: ['organization', 'name'] }],
});
export type IStorageLocation = InferEntity<typeof StorageLocation>;

/**
 * An organization's storage choices: the location of its own backups (null: inherited, see
 * core/storage-locations/assignment.ts) and, for portals, the default offered to new accounts.
 * A table of its own rather than columns of organizations, which SQLite could only add by
 * rebuilding that table.
 */
export const OrganizationStorage = defineEntity({
  name: 'OrganizationStorage',
  tableName: 'organization_storage',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).unique().deleteRule('cascade'),
    location: () => p.manyToOne(StorageLocation).nullable().index().deleteRule('set null'),
    defaultForNewAccounts: () => p.manyToOne(StorageLocation).nullable().index().deleteRule('set null'),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IOrganizationStorage = InferEntity<typeof OrganizationStorage>;

/**
 * Which location and organization a catalogued backup repository belongs to. A location (and an
 * organization's assignment) is "in use" once one of its repositories has a snapshot in the catalog.
 */
export const StorageRepository = defineEntity({
  name: 'StorageRepository',
  tableName: 'storage_repositories',
  properties: {
    id: p.integer().primary().autoincrement(),
    repository: () => p.manyToOne(CatalogRepository).unique().deleteRule('cascade'),
    location: () => p.manyToOne(StorageLocation).index().deleteRule('cascade'),
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    attachedAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IStorageRepository = InferEntity<typeof StorageRepository>;

/** What a scheduled verification run found (core/storage-locations/verification.ts). */
export interface VerificationResult {
  at: string;
  ok: boolean;
  /** Packs read back this run, of all packs; every pack is read within `cycleRuns` runs. */
  packsRead: number;
  packs: number;
  cycleRuns: number;
  problems: { organizationId: string; organizationName: string; object: string; message: string }[];
  lost: {
    organizationId: string;
    organizationName: string;
    snapshot: string;
    task: string;
    entity: string;
    time: string;
    items: string[];
    ranges: string[];
  }[];
  repairs: string[];
  /** Repositories that could not be opened or read (the store's sentence). */
  failures: { organizationName: string; message: string }[];
}

/**
 * A location's verification schedule and its last result: every `intervalHours` the structure of
 * each repository there is checked and `samplePercent` of its packs read back, so every pack is
 * read at least every ceil(100 / samplePercent) runs. `notifiedKey` names the damage last notified
 * (the same damage found again notifies nobody).
 */
export const StorageVerification = defineEntity({
  name: 'StorageVerification',
  tableName: 'storage_verifications',
  properties: {
    id: p.integer().primary().autoincrement(),
    location: () => p.manyToOne(StorageLocation).unique().deleteRule('cascade'),
    samplePercent: p.integer().default(10),
    intervalHours: p.integer().default(24),
    runs: p.integer().default(0),
    lastRunAt: p.datetime().nullable(),
    lastOk: p.boolean().nullable(),
    lastResult: p.json<VerificationResult>().nullable(),
    notifiedKey: p.string().length(300).nullable(),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IStorageVerification = InferEntity<typeof StorageVerification>;
