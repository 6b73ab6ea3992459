// Storage locations of an organization: create (validated by the sink plugin's schema, then
// connection-tested; a failing location is not saved), edit (blank secrets keep their value; a
// changed setting is tested again), test again, delete, and list with secrets masked. Secret
// settings are sealed with the credential cipher under the location's id and never leave here
// except to open a sink. Locations in use (a repository with snapshots) cannot change.

import { randomUUID } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { CatalogSnapshot } from '../catalog/entities.ts';
import {
  AppError,
  ConflictError,
  type FieldErrors,
  fieldErrorsFrom,
  NotFoundError,
  ValidationError,
} from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { sinkPlugin } from '../plugins/registry.ts';
import type { ImmutabilityPolicy, Sink, SinkCreateOptions, SinkPlugin } from '../plugins/sink.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { NODE_LOCAL_STORAGE_REFUSED } from '../system/node-role.ts';
import { BackupTask } from '../tasks/entities.ts';
import { DEFAULT_LOCATION } from '../tasks/storage.ts';
import { ancestorIds } from '../tenancy/organizations.ts';
import { type ConnectionTestResult, testConnection } from './connection-test.ts';
import { type IStorageLocation, OrganizationStorage, StorageLocation, StorageRepository } from './entities.ts';
import {
  ambientCredentialProblems,
  fieldsOf,
  forbiddenSettingProblems,
  kindAllowed,
  type SettingField,
  settingsFromInput,
} from './fields.ts';

/** The embedded default: local disk at the configuration's storage folder. Its id is fixed. */
export const BUILTIN_LOCATION_ID = 'builtin-local-disk';
export const BUILTIN_LOCATION_NAME = 'Local disk (built-in)';

export interface StorageContext {
  em: EntityManager;
  credentials: CredentialCipher;
  /** The folder of the built-in location (config.storageDir). */
  storageDir: string;
  /** Multi-node mode (core/system/node-role.ts): locations of node-local kinds are refused. */
  multiNode?: boolean;
}

/** A failed connection test: the sentence is the message; the detail says which step and why. */
export class ConnectionTestFailedError extends AppError {
  readonly result: ConnectionTestResult;
  constructor(result: ConnectionTestResult) {
    super('connection_test_failed', result.sentence, 422);
    this.name = 'ConnectionTestFailedError';
    this.result = result;
  }
}

function sealContext(id: string): string {
  return `storage-location:${id}`;
}

function pluginOf(location: IStorageLocation): SinkPlugin<unknown> {
  const plugin = sinkPlugin(location.kind);
  if (!plugin) throw new AppError('unknown_storage_kind', `No sink plugin handles "${location.kind}".`, 500);
  return plugin;
}

/**
 * Creates the built-in location on first use (owned by the root), so appliances set up before
 * storage locations existed get it too. Concurrent first uses race on the fixed id; the loser's
 * insert is ignored. Null only before setup, when there is no root yet.
 */
export async function ensureBuiltinLocation(em: EntityManager): Promise<IStorageLocation | null> {
  const existing = await em.findOne(StorageLocation, { id: BUILTIN_LOCATION_ID });
  if (existing) return existing;
  const root = await em.findOne(Organization, { kind: 'root' });
  if (!root) return null;
  const fork = em.fork();
  fork.create(StorageLocation, {
    id: BUILTIN_LOCATION_ID,
    organization: fork.getReference(Organization, root.id),
    name: BUILTIN_LOCATION_NAME,
    kind: 'local',
    settings: {},
    sealedSecrets: null,
    builtin: true,
    description: null,
    lastTestedAt: null,
    lastTestOk: null,
    lastTestSentence: null,
    lastTestDetail: null,
  });
  try {
    await fork.flush();
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException)) throw err;
  }
  return em.findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
}

/** Locations an organization may use: the built-in one, its own and those of every organization above it. */
export async function availableLocations(em: EntityManager, org: IOrganization): Promise<IStorageLocation[]> {
  await ensureBuiltinLocation(em);
  const owners = ancestorIds(org);
  const rows = await em.find(
    StorageLocation,
    { $or: [{ organization: { $in: owners } }, { builtin: true }] },
    { populate: ['organization'], orderBy: { name: 'asc' } },
  );
  // Built-in first, then from the top of the tree down (the appliance's, the portal's, its own).
  const depth = (l: IStorageLocation) => owners.indexOf((l.organization as IOrganization).id);
  return rows.sort((a, b) => Number(b.builtin) - Number(a.builtin) || depth(a) - depth(b));
}

/**
 * The ids and names of availableLocations, in its order, read as plain rows: what a select of
 * locations shows (the portal's bulk "assign storage location" on every Accounts page), without
 * loading the locations and their organizations as entities.
 */
export async function availableLocationNames(
  em: EntityManager,
  org: IOrganization,
): Promise<{ id: string; name: string }[]> {
  const owners = ancestorIds(org);
  const read = async () =>
    (await em
      .getConnection()
      .execute(
        `select id, name, builtin, organization_id from storage_locations where builtin or organization_id in (${owners.map(() => '?').join(', ')}) order by name asc`,
        owners,
        'all',
      )) as { id: string; name: string; builtin: number | boolean; organization_id: string }[];
  let rows = await read();
  if (!rows.some((r) => r.builtin)) {
    await ensureBuiltinLocation(em);
    rows = await read();
  }
  const depth = (r: { organization_id: string }) => owners.indexOf(r.organization_id);
  return rows
    .sort((a, b) => Number(b.builtin) - Number(a.builtin) || depth(a) - depth(b))
    .map((r) => ({ id: r.id, name: r.name }));
}

/** A location the organization may use; otherwise a 404 (other tenants' ids reveal nothing). */
export async function findAvailableLocation(
  em: EntityManager,
  org: IOrganization,
  id: string,
): Promise<IStorageLocation> {
  if (id === BUILTIN_LOCATION_ID) await ensureBuiltinLocation(em);
  const location =
    typeof id === 'string' && id.length <= 36
      ? await em.findOne(StorageLocation, { id }, { populate: ['organization'] })
      : null;
  if (!location || !(location.builtin || ancestorIds(org).includes((location.organization as IOrganization).id))) {
    throw new NotFoundError('There is no such storage location.');
  }
  return location;
}

/** A location the organization owns (and so may change); anything else is a 404. */
export async function findOwnedLocation(em: EntityManager, org: IOrganization, id: string): Promise<IStorageLocation> {
  const location = await findAvailableLocation(em, org, id);
  if ((location.organization as IOrganization).id !== org.id)
    throw new NotFoundError('There is no such storage location.');
  return location;
}

/** The kind's fields as this organization may fill them. */
export function locationFields(kind: string, org: IOrganization): SettingField[] {
  const plugin = sinkPlugin(kind);
  return plugin ? fieldsOf(plugin, org) : [];
}

function unsealSecrets(ctx: StorageContext, location: IStorageLocation): Record<string, string> {
  if (!location.sealedSecrets) return {};
  return JSON.parse(ctx.credentials.decrypt(location.sealedSecrets, sealContext(location.id))) as Record<
    string,
    string
  >;
}

function sealSecrets(ctx: StorageContext, id: string, secrets: Record<string, string>): string | null {
  return Object.keys(secrets).length === 0 ? null : ctx.credentials.encrypt(JSON.stringify(secrets), sealContext(id));
}

/** Every setting of the location, secrets included: only for opening its sink. */
function fullSettings(ctx: StorageContext, location: IStorageLocation): Record<string, unknown> {
  if (location.builtin) return { path: ctx.storageDir };
  return { ...location.settings, ...unsealSecrets(ctx, location) };
}

/** Opens the location's sink (for backups and restores). */
export async function openLocationSink(
  ctx: StorageContext,
  location: IStorageLocation,
  options?: SinkCreateOptions,
): Promise<Sink> {
  const plugin = pluginOf(location);
  return plugin.create(plugin.settings.parse(fullSettings(ctx, location)), options);
}

/**
 * Backups kept at this location: snapshots of its catalogued repositories, plus backup tasks
 * whose snapshots were committed there (a task records its location with its first snapshot,
 * indexed for search or not).
 */
export async function backupsAt(em: EntityManager, location: IStorageLocation): Promise<number> {
  const links = await em.find(StorageRepository, { location: location.id });
  const snapshots =
    links.length === 0
      ? 0
      : await em.count(CatalogSnapshot, { repository: { $in: links.map((l) => (l.repository as { id: string }).id) } });
  const names = location.builtin ? [location.id, DEFAULT_LOCATION] : [location.id];
  return snapshots + (await em.count(BackupTask, { storageLocation: { $in: names } }));
}

async function refuseWhenInUse(em: EntityManager, location: IStorageLocation, action: string): Promise<void> {
  if (location.builtin) {
    throw new ConflictError(
      'builtin_location',
      `${BUILTIN_LOCATION_NAME} is part of the appliance and cannot be ${action}.`,
    );
  }
  if ((await backupsAt(em, location)) > 0) {
    throw new ConflictError('location_in_use', `${location.name} holds backups and cannot be ${action}.`);
  }
}

export interface LocationInput {
  name?: string | undefined;
  kind?: string | undefined;
  /** Submitted setting values (form strings or JSON values), secrets among them. */
  settings: Record<string, unknown>;
  /** Settings to remove (API PATCH: a setting sent as null; secrets included). */
  clear?: readonly string[];
}

function validName(name: string | undefined, errors: FieldErrors): string | undefined {
  const trimmed = (name ?? '').trim();
  if (!trimmed) errors.name = 'Enter a name, such as "EU object storage".';
  else if (trimmed.length > 200) errors.name = 'Use at most 200 characters.';
  return trimmed;
}

async function nameTaken(em: EntityManager, org: IOrganization, name: string, except?: string): Promise<boolean> {
  const other = await em.findOne(StorageLocation, { organization: org.id, name });
  return Boolean(other && other.id !== except);
}

/** Parses the settings with the plugin's schema and splits them into public and secret ones. */
function parseSettings(
  owner: IOrganization,
  plugin: SinkPlugin<unknown>,
  merged: Record<string, unknown>,
  errors: FieldErrors,
): { settings: Record<string, unknown>; secrets: Record<string, string> } | null {
  const parsed = plugin.settings.safeParse(merged);
  if (!parsed.success) {
    Object.assign(errors, fieldErrorsFrom(parsed.error.issues));
    return null;
  }
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed.data as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (plugin.secretSettings.includes(key)) secrets[key] = String(value);
    else settings[key] = value;
  }
  const missing = ambientCredentialProblems(owner, plugin, settings, secrets);
  if (Object.keys(missing).length > 0) {
    Object.assign(errors, missing);
    return null;
  }
  return { settings, secrets };
}

function recordTest(location: IStorageLocation, result: ConnectionTestResult, now: Date): void {
  location.description = result.description.slice(0, 1000);
  location.lastTestedAt = now;
  location.lastTestOk = result.ok;
  location.lastTestSentence = result.sentence.slice(0, 1000);
  location.lastTestDetail = result.detail?.slice(0, 2000) ?? null;
}

export async function createLocation(
  ctx: StorageContext,
  owner: IOrganization,
  input: LocationInput,
  from: 'form' | 'json',
  actor: AuditActor,
  now: Date,
): Promise<{ location: IStorageLocation; test: ConnectionTestResult }> {
  const errors: FieldErrors = {};
  const name = validName(input.name, errors);
  const kind = input.kind ?? '';
  if (!kindAllowed(owner, kind)) {
    errors.kind = 'Choose one of the storage kinds offered.';
    throw new ValidationError(errors);
  }
  const plugin = sinkPlugin(kind) as SinkPlugin<unknown>;
  if (ctx.multiNode && plugin.nodeLocal) {
    errors.kind = NODE_LOCAL_STORAGE_REFUSED;
    throw new ValidationError(errors);
  }
  if (name && !errors.name && (await nameTaken(ctx.em, owner, name))) errors.name = 'A location with this name exists.';
  Object.assign(errors, forbiddenSettingProblems(owner, plugin, input.settings));
  const parsed = parseSettings(owner, plugin, settingsFromInput(fieldsOf(plugin, owner), input.settings, from), errors);
  if (!parsed || Object.keys(errors).length > 0) throw new ValidationError(errors);
  const test = await testConnection(plugin, { ...parsed.settings, ...parsed.secrets });
  if (!test.ok) throw new ConnectionTestFailedError(test);
  const id = randomUUID();
  const location = ctx.em.create(StorageLocation, {
    id,
    organization: owner,
    name: name as string,
    kind,
    settings: parsed.settings,
    sealedSecrets: sealSecrets(ctx, id, parsed.secrets),
    builtin: false,
    description: null,
    lastTestedAt: null,
    lastTestOk: null,
    lastTestSentence: null,
    lastTestDetail: null,
  });
  recordTest(location, test, now);
  await ctx.em.flush();
  await recordAudit(ctx.em, {
    organization: owner,
    activity: 'Storage location changed',
    account: owner.name,
    description: `Added the storage location ${location.name} (${location.description})`,
    actor,
  });
  return { location, test };
}

/**
 * Applies changes. `mode` 'replace' (the settings form: every public setting is submitted, an
 * empty one is unset) or 'merge' (API PATCH: settings left out keep their value). Secrets left
 * blank always keep their value. Changed settings are tested before anything is saved.
 */
export async function updateLocation(
  ctx: StorageContext,
  owner: IOrganization,
  location: IStorageLocation,
  input: LocationInput,
  mode: 'replace' | 'merge',
  actor: AuditActor,
  now: Date,
): Promise<{ test: ConnectionTestResult | null; changed: string[] }> {
  await refuseWhenInUse(ctx.em, location, 'changed');
  const plugin = pluginOf(location);
  const errors: FieldErrors = {};
  const name = input.name === undefined ? location.name : validName(input.name, errors);
  if (name && !errors.name && (await nameTaken(ctx.em, owner, name, location.id))) {
    errors.name = 'A location with this name exists.';
  }
  Object.assign(errors, forbiddenSettingProblems(owner, plugin, input.settings));
  const fields = fieldsOf(plugin, owner);
  const submitted = settingsFromInput(fields, input.settings, mode === 'replace' ? 'form' : 'json');
  const storedSecrets = unsealSecrets(ctx, location);
  const merged: Record<string, unknown> = mode === 'merge' ? { ...location.settings } : {};
  // Settings the organization may not edit (server paths set by the operator) stay as they are.
  for (const [key, value] of Object.entries(location.settings)) {
    if (!fields.some((f) => f.name === key)) merged[key] = value;
  }
  Object.assign(merged, storedSecrets);
  for (const secret of input.clear ?? []) delete merged[secret];
  Object.assign(merged, submitted);
  const parsed = parseSettings(owner, plugin, merged, errors);
  if (!parsed || Object.keys(errors).length > 0) throw new ValidationError(errors);

  const changed: string[] = [];
  if (name !== location.name) changed.push('name');
  const keys = new Set([...Object.keys(location.settings), ...Object.keys(parsed.settings)]);
  for (const key of keys) {
    if (JSON.stringify(location.settings[key]) !== JSON.stringify(parsed.settings[key])) changed.push(key);
  }
  const secretKeys = new Set([...Object.keys(storedSecrets), ...Object.keys(parsed.secrets)]);
  const secretsChanged = [...secretKeys].filter((key) => storedSecrets[key] !== parsed.secrets[key]);
  changed.push(...secretsChanged);

  let test: ConnectionTestResult | null = null;
  if (changed.some((c) => c !== 'name')) {
    test = await testConnection(plugin, { ...parsed.settings, ...parsed.secrets });
    if (!test.ok) throw new ConnectionTestFailedError(test);
    recordTest(location, test, now);
  }
  if (changed.length === 0) return { test, changed };
  location.name = name as string;
  location.settings = parsed.settings;
  if (secretsChanged.length > 0) location.sealedSecrets = sealSecrets(ctx, location.id, parsed.secrets);
  await ctx.em.flush();
  await recordAudit(ctx.em, {
    organization: owner,
    activity: 'Storage location changed',
    account: owner.name,
    description: `Changed the storage location ${location.name}: ${changed.join(', ')}`,
    actor,
  });
  return { test, changed };
}

/** Runs the connection test again with the stored settings and keeps its result. */
export async function retestLocation(
  ctx: StorageContext,
  location: IStorageLocation,
  now: Date,
): Promise<ConnectionTestResult> {
  const test = await testConnection(pluginOf(location), fullSettings(ctx, location));
  recordTest(location, test, now);
  await ctx.em.flush();
  return test;
}

export async function deleteLocation(
  ctx: StorageContext,
  owner: IOrganization,
  location: IStorageLocation,
  actor: AuditActor,
): Promise<void> {
  await refuseWhenInUse(ctx.em, location, 'removed');
  const assigned = await ctx.em.count(OrganizationStorage, {
    $or: [{ location: location.id }, { defaultForNewAccounts: location.id }],
  });
  if (assigned > 0) {
    throw new ConflictError(
      'location_assigned',
      `${location.name} is chosen as the storage of ${assigned === 1 ? 'an organization' : `${assigned} organizations`} (or as a default for new accounts): choose another location there first.`,
    );
  }
  const name = location.name;
  await ctx.em.nativeDelete(StorageRepository, { location: location.id });
  ctx.em.remove(location);
  await ctx.em.flush();
  await recordAudit(ctx.em, {
    organization: owner,
    activity: 'Storage location changed',
    account: owner.name,
    description: `Removed the storage location ${name}`,
    actor,
  });
}

export interface LocationView {
  id: string;
  name: string;
  kind: string;
  kindLabel: string;
  builtin: boolean;
  ownerId: string;
  ownerName: string;
  /** Whether the organization looking at it owns it (and may change it). */
  owned: boolean;
  description: string | null;
  /** Non-secret settings; only for the owner (others see name, kind and description). */
  settings: Record<string, unknown> | null;
  /** Names of the secret settings that hold a value: the values themselves never leave. */
  secretsSet: string[];
  lastTest: { at: Date; ok: boolean; sentence: string; detail: string | null } | null;
  /**
   * The immutability its settings ask for (the sink plugin says; null: objects are not locked).
   * A passed connection test of such a location proved the store refuses to delete a locked object.
   */
  immutability: ImmutabilityPolicy | null;
}

/** What pages and the API show of a location: never a secret, only which secrets are set. */
export function locationView(ctx: StorageContext, location: IStorageLocation, viewer: IOrganization): LocationView {
  const owner = location.organization as IOrganization;
  const owned = owner.id === viewer.id;
  const plugin = sinkPlugin(location.kind);
  let secretsSet: string[] = [];
  if (owned && location.sealedSecrets) {
    try {
      secretsSet = Object.keys(unsealSecrets(ctx, location));
    } catch {
      // A ciphertext of another master key: shown as nothing set; the connection test says why.
      secretsSet = [];
    }
  }
  return {
    id: location.id,
    name: location.name,
    kind: location.kind,
    kindLabel: plugin?.label ?? location.kind,
    builtin: location.builtin,
    ownerId: owner.id,
    ownerName: owner.name,
    owned,
    description: location.builtin ? `local:${ctx.storageDir}` : (location.description ?? null),
    settings: owned ? (location.builtin ? { path: ctx.storageDir } : { ...location.settings }) : null,
    secretsSet,
    // The plugin reads only its lock settings, which are never secret.
    immutability: location.builtin ? null : (plugin?.immutability?.(location.settings as never) ?? null),
    lastTest:
      location.lastTestedAt && typeof location.lastTestOk === 'boolean' && location.lastTestSentence
        ? {
            at: location.lastTestedAt,
            ok: location.lastTestOk,
            sentence: location.lastTestSentence,
            detail: owned ? (location.lastTestDetail ?? null) : null,
          }
        : null,
  };
}
