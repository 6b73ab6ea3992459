// Starting a restore or an export: the domain functions the API (and the Recovery dialogs) call.
// Everything is checked before a job is queued — the caller's permission, the task and entities
// inside the organization acted on (another tenant's id is "not found"), the snapshot belonging
// to that entity of that task, the destination entity being in the same task, the label, the
// encryption key — so a job that starts has what it needs.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { type ZodType, z } from 'zod';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission, type Principal } from '../access/principal.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { anyKeyPresent, resolvePath } from '../catalog/browse.ts';
import { CatalogSnapshot, type ICatalogSnapshot } from '../catalog/entities.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { JOB_LABEL_MAX } from '../jobs/entities.ts';
import { enqueueJob, type Initiator, jobLabel } from '../jobs/queue.ts';
import { servicePlugin } from '../plugins/registry.ts';
import type { RestoreMode, ServicePlugin } from '../plugins/service.ts';
import { formFieldsOf, valuesFromInput } from '../plugins/settings-form.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { findAvailableLocation } from '../storage-locations/locations.ts';
import { BackupTask, type IBackupTask, type ITaskEntity, TaskEntity } from '../tasks/entities.ts';
import type { ExportEncryption, ExportFormat } from './entities.ts';
import { type ItemSelection, describeSelection as nameSelection } from './items.ts';
import { type ExportParams, exportPassphraseContext, MAX_EXPORT_PARTS, type RestoreParams } from './params.ts';

export const MIN_EXPORT_PASSPHRASE = 8;
const MAX_SELECTED = 10_000;

export interface RecoveryRequest {
  taskId: string;
  /** The entity whose backup is read. */
  entityId: string;
  snapshotId: string;
  /** Nothing selected: the whole snapshot. */
  keys?: string[] | undefined;
  paths?: string[] | undefined;
  /** Shown on the Jobs page; at most 50 characters. */
  label?: string | undefined;
}

export interface RestoreRequest extends RecoveryRequest {
  /** Another entity of the same task; the source entity when absent. */
  destinationEntityId?: string | undefined;
  mode: RestoreMode;
  /** The service plugin's `restoreOptions`: JSON values (the API) or form strings (`optionsFrom: 'form'`). */
  options?: Record<string, unknown> | undefined;
  optionsFrom?: 'form' | 'json' | undefined;
}

export interface ExportRequest extends RecoveryRequest {
  format?: ExportFormat | undefined;
  encryption?: ExportEncryption | undefined;
  publicKey?: string | undefined;
  passphrase?: string | undefined;
  /** Write the file to this storage location instead of offering it for download. */
  locationId?: string | null | undefined;
  /** The service's export options (its `exportOptions`): form strings or JSON values. */
  options?: Record<string, unknown> | undefined;
  /** How `options` arrived: a form's strings (a checkbox is "on") or JSON (the API). */
  optionsFrom?: 'form' | 'json' | undefined;
  /**
   * Further entities of the same task in the same archive (a multi-object export): each with its
   * snapshot and selection (none: the whole snapshot), checked like the first.
   */
  more?: ExportPart[] | undefined;
}

export interface ExportPart {
  entityId: string;
  snapshotId: string;
  keys?: string[] | undefined;
  paths?: string[] | undefined;
}

export interface StartContext {
  em: EntityManager;
  principal: Principal;
  organization: IOrganization;
  actor: AuditActor;
  credentials: CredentialCipher;
  now: Date;
  maxAttempts: number;
}

export interface StartedJob {
  id: string;
  label: string;
}

export function initiatorOf(principal: Principal): Initiator {
  return principal.kind === 'api_key'
    ? { kind: 'api_key', id: principal.apiKeyId ?? null, label: principal.label }
    : { kind: 'user', id: principal.user?.id ?? null, label: principal.label };
}

interface Resolved {
  task: IBackupTask;
  entity: ITaskEntity;
  snapshotTime: string | null;
  selection: ItemSelection;
  label: string | null;
}

async function resolve(ctx: StartContext, request: RecoveryRequest, errors: Record<string, string>): Promise<Resolved> {
  const { em, organization } = ctx;
  const task =
    typeof request.taskId === 'string' && request.taskId.length <= 36
      ? await em.findOne(BackupTask, { id: request.taskId, organization, deletedAt: null })
      : null;
  if (!task) throw new NotFoundError('No such backup task.');
  const entity = await findEntity(em, task, request.entityId);
  const snapshot = await snapshotOf(em, task, entity, request.snapshotId);
  const snapshotTime = snapshot?.time.toISOString() ?? null;
  const label = request.label?.replace(/\s+/g, ' ').trim() || null;
  if (label && label.length > JOB_LABEL_MAX) errors.label = `The job label is at most ${JOB_LABEL_MAX} characters.`;
  const keys = [...new Set((request.keys ?? []).filter((k) => k !== ''))];
  const paths = [...new Set((request.paths ?? []).map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== ''))];
  if (keys.length + paths.length > MAX_SELECTED) {
    errors.keys = `Select at most ${MAX_SELECTED} items and folders, or the whole snapshot.`;
  } else if (snapshot && (keys.length || paths.length)) {
    const problem = await selectionProblem(em, task, snapshot, { keys, paths });
    if (problem) errors.selection = problem;
  }
  return { task, entity, snapshotTime, selection: { keys, paths }, label };
}

/**
 * The destination entity: one of the task's, or — for plugins that restore to other tasks — the
 * same entity (external id) of another task of the same service in the organization acted on.
 */
async function findDestination(
  ctx: StartContext,
  task: IBackupTask,
  source: ITaskEntity,
  plugin: ServicePlugin | undefined,
  id: string,
): Promise<ITaskEntity> {
  const own = id.length <= 36 ? await ctx.em.findOne(TaskEntity, { id, task, deletedAt: null }) : null;
  if (own && own.id !== source.id && plugin?.restoreToOtherEntities === false) {
    throw new ValidationError(
      { destinationEntityId: `${plugin.label} restores ${source.name} only to ${source.name}.` },
      'The restore request needs attention.',
    );
  }
  if (own || !plugin?.restoreToOtherTasks) return own ?? findEntity(ctx.em, task, id);
  const other = await ctx.em.findOne(
    TaskEntity,
    {
      id,
      externalId: source.externalId,
      deletedAt: null,
      task: { organization: ctx.organization, service: task.service, deletedAt: null },
    },
    { populate: ['task'] },
  );
  if (!other) throw new NotFoundError('No such user, team folder or object in this backup task.');
  return other;
}

async function findEntity(em: EntityManager, task: IBackupTask, id: string | undefined): Promise<ITaskEntity> {
  const entity =
    typeof id === 'string' && id.length <= 36 ? await em.findOne(TaskEntity, { id, task, deletedAt: null }) : null;
  if (!entity) throw new NotFoundError('No such user, team folder or object in this backup task.');
  return entity;
}

/**
 * The snapshot must be one of this entity's in this task: found in the catalog (tasks indexed for
 * search), or the entity's last snapshot. The job checks the manifest again before reading.
 */
async function snapshotOf(
  em: EntityManager,
  task: IBackupTask,
  entity: ITaskEntity,
  id: string | undefined,
): Promise<ICatalogSnapshot | null> {
  if (typeof id === 'string' && id.length > 0 && id.length <= 64) {
    const row = await em.findOne(CatalogSnapshot, { id, task: task.id, entity: entity.externalId });
    if (row) return row;
    if (entity.lastSnapshotId === id) return null;
  }
  throw new NotFoundError('No such snapshot of this user, team folder or object.');
}

/**
 * Why a selection cannot be recovered from a catalogued snapshot: none of its keys is there and
 * none of its paths (compared under the service's rules) — or null. Snapshots not in the catalog
 * are checked by the job, which fails the same way.
 */
async function selectionProblem(
  em: EntityManager,
  task: IBackupTask,
  snapshot: ICatalogSnapshot,
  selection: ItemSelection,
): Promise<string | null> {
  const scoped = {
    id: snapshot.id,
    repository: snapshot.repository.id,
    time: snapshot.time,
    items: snapshot.items,
    bytes: Number(snapshot.bytes),
    task: snapshot.task,
    entity: snapshot.entity,
  };
  if (await anyKeyPresent(em, scoped, selection.keys ?? [])) return null;
  const caseInsensitive = servicePlugin(task.service)?.pathsCaseInsensitive;
  for (const path of selection.paths ?? []) {
    if ((await resolvePath(em, scoped, path, caseInsensitive)) !== undefined) return null;
  }
  return `Nothing in this snapshot matches ${nameSelection(selection)}.`;
}

function requirePermission(principal: Principal, permission: 'restore' | 'export_download'): void {
  if (!hasPermission(principal, permission)) throw new MissingPermissionError(permission);
}

/** "Restored 2026-11-22 08:15 UTC": the folder a non-destructive restore creates. */
export function restoredFolderName(at: Date): string {
  return `Restored ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A restore request checked as `startRestore` checks it, without queuing anything. */
export interface CheckedRestore {
  task: IBackupTask;
  entity: ITaskEntity;
  destination: ITaskEntity;
  params: RestoreParams;
  label: string | null;
}

/** Checks a restore request (permission, task, entities, snapshot, selection, mode, options). */
export async function checkRestore(ctx: StartContext, request: RestoreRequest): Promise<CheckedRestore> {
  requirePermission(ctx.principal, 'restore');
  const errors: Record<string, string> = {};
  const r = await resolve(ctx, request, errors);
  const plugin = servicePlugin(r.task.service);
  const destination = request.destinationEntityId
    ? await findDestination(ctx, r.task, r.entity, plugin, request.destinationEntityId)
    : r.entity;
  if (request.mode !== 'non_destructive' && request.mode !== 'in_place') {
    errors.mode = 'Choose non-destructive (into a new folder) or in-place.';
  } else if (plugin?.restoreModes && !plugin.restoreModes.includes(request.mode)) {
    errors.mode = `${plugin.label} restores ${plugin.restoreModes.includes('in_place') ? 'in place' : 'into a new folder'} only.`;
  }
  const options = parsePluginOptions(
    plugin?.restoreOptions,
    request.options,
    request.optionsFrom ?? 'json',
    errors,
    'restore',
  );
  if (Object.keys(errors).length) throw new ValidationError(errors, 'The restore request needs attention.');
  const params: RestoreParams = {
    snapshotId: request.snapshotId,
    snapshotTime: r.snapshotTime,
    entityId: r.entity.id,
    selection: r.selection,
    destinationEntityId: destination.id,
    mode: request.mode,
    options,
  };
  return { task: r.task, entity: r.entity, destination, params, label: r.label };
}

export async function startRestore(ctx: StartContext, request: RestoreRequest): Promise<StartedJob> {
  const checked = await checkRestore(ctx, request);
  const { params, destination } = checked;
  const r = { ...checked, selection: params.selection, snapshotTime: params.snapshotTime };
  const label = r.label ?? jobLabel(`Restore of ${r.entity.name}`);
  const id = await enqueueJob(
    ctx.em,
    {
      organizationId: ctx.organization.id,
      kind: 'restore',
      label,
      taskId: r.task.id,
      entityId: r.entity.id,
      initiator: initiatorOf(ctx.principal),
      params: params as unknown as Record<string, unknown>,
      // A second run would write the items a failed one already wrote once more: no automatic retry.
      maxAttempts: 1,
    },
    ctx.now,
  );
  await recordAudit(ctx.em, {
    organization: ctx.organization,
    activity: 'Restore started',
    service: r.task.service,
    account: r.entity.name,
    description: `Restore of ${describeSelection(r.selection)} from the ${r.snapshotTime ?? 'latest'} snapshot of ${r.entity.name} to ${destination.name} (${request.mode === 'in_place' ? 'in place' : 'into a new folder'}).`,
    actor: ctx.actor,
  });
  return { id, label: jobLabel(label) };
}

export async function startExport(ctx: StartContext, request: ExportRequest): Promise<StartedJob> {
  requirePermission(ctx.principal, 'export_download');
  const errors: Record<string, string> = {};
  const r = await resolve(ctx, request, errors);
  const more = request.more ?? [];
  if (more.length > MAX_EXPORT_PARTS) errors.more = `Export at most ${MAX_EXPORT_PARTS + 1} objects in one job.`;
  const parts: ExportParams['parts'] = [];
  const partNames: string[] = [];
  const seen = new Set([r.entity.id]);
  for (const part of more.slice(0, MAX_EXPORT_PARTS)) {
    // Each part is checked as the first is: the task's own entity, one of its snapshots (else 404).
    const p = await resolve(ctx, { ...part, taskId: r.task.id }, errors);
    if (seen.has(p.entity.id)) {
      errors.more = `${p.entity.name} is chosen twice: choose each object once.`;
      continue;
    }
    seen.add(p.entity.id);
    partNames.push(p.entity.name);
    parts.push({
      entityId: p.entity.id,
      snapshotId: part.snapshotId,
      snapshotTime: p.snapshotTime,
      selection: p.selection,
    });
  }
  const format = request.format ?? 'zip';
  if (format !== 'zip' && format !== 'tar') errors.format = 'Choose ZIP or TAR.';
  const encryption = request.encryption ?? 'none';
  const id = randomUUID();
  let sealedPassphrase: string | undefined;
  let publicKey: string | undefined;
  if (encryption === 'passphrase') {
    if (!request.passphrase || request.passphrase.length < MIN_EXPORT_PASSPHRASE) {
      errors.passphrase = `Enter a passphrase of at least ${MIN_EXPORT_PASSPHRASE} characters.`;
    } else {
      sealedPassphrase = ctx.credentials.encrypt(request.passphrase, exportPassphraseContext(id));
    }
  } else if (encryption === 'public_key') {
    const problem = await publicKeyProblem(request.publicKey);
    if (problem) errors.publicKey = problem;
    else publicKey = request.publicKey?.trim();
  } else if (encryption !== 'none') {
    errors.encryption = 'Choose no encryption, a public key or a passphrase.';
  }
  const location = request.locationId
    ? await findAvailableLocation(ctx.em, ctx.organization, request.locationId)
    : null;
  const options = parsePluginOptions(
    servicePlugin(r.task.service)?.exportOptions,
    request.options,
    request.optionsFrom ?? 'json',
    errors,
    'export',
  );
  if (Object.keys(errors).length) throw new ValidationError(errors, 'The export request needs attention.');
  const params: ExportParams = {
    snapshotId: request.snapshotId,
    snapshotTime: r.snapshotTime,
    entityId: r.entity.id,
    selection: r.selection,
    format,
    encryption,
    ...(publicKey ? { publicKey } : {}),
    ...(sealedPassphrase ? { sealedPassphrase } : {}),
    locationId: location?.id ?? null,
    options,
    parts,
  };
  const what = parts.length ? `${parts.length + 1} objects` : r.entity.name;
  const label = r.label ?? jobLabel(`Export of ${what}`);
  await enqueueJob(
    ctx.em,
    {
      id,
      organizationId: ctx.organization.id,
      kind: 'export',
      label,
      taskId: r.task.id,
      entityId: r.entity.id,
      initiator: initiatorOf(ctx.principal),
      params: params as unknown as Record<string, unknown>,
      maxAttempts: ctx.maxAttempts,
    },
    ctx.now,
  );
  await recordAudit(ctx.em, {
    organization: ctx.organization,
    activity: 'Export started',
    service: r.task.service,
    account: r.entity.name,
    description: `Export of ${describeSelection(r.selection)} from the ${r.snapshotTime ?? 'latest'} snapshot of ${r.entity.name}${partNames.length ? ` and of ${partNames.join(', ')}`.slice(0, 500) : ''} as ${format.toUpperCase()}${encryption === 'none' ? '' : ', encrypted'}${location ? ` to ${location.name}` : ' for download'}.`,
    actor: ctx.actor,
  });
  return { id, label: jobLabel(label) };
}

/** The error key of a plugin option: the form's input name and the API's field name. */
export function exportOptionKey(name: string): string {
  return `options.${name}`;
}

/**
 * A service's own options (`exportOptions`, `restoreOptions`) parsed by its schema: form strings
 * coerced as the connect form's are, JSON given to the schema as it is (a value of the wrong type
 * is refused, not dropped; a name the schema lacks is refused). Each problem lands in `errors`
 * under `options.<name>`. A service without the schema takes none: any given are refused.
 */
export function parsePluginOptions(
  schema: ZodType<Record<string, unknown>> | undefined,
  given: Record<string, unknown> | undefined,
  from: 'form' | 'json',
  errors: Record<string, string>,
  what: 'export' | 'restore',
): Record<string, unknown> {
  const values = given && typeof given === 'object' && !Array.isArray(given) ? given : {};
  if (!schema) {
    const name = Object.keys(values)[0];
    if (name !== undefined) errors[exportOptionKey(name)] = `This service takes no ${what} options.`;
    return {};
  }
  let input = values;
  if (from === 'form') {
    input = valuesFromInput(formFieldsOf(schema, []), values, { from: 'form', blankRequired: 'unset' });
  } else {
    // Every option of the schema, also those no form shows (lists: the API only).
    const names =
      schema instanceof z.ZodObject ? Object.keys(schema.shape) : formFieldsOf(schema, []).map((f) => f.name);
    const unknown = Object.keys(values).find((name) => !names.includes(name));
    if (unknown !== undefined) errors[exportOptionKey(unknown)] = `This service has no such ${what} option.`;
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    errors[exportOptionKey(issue.path.map(String).join('.') || 'options')] ??= issue.message;
  }
  return {};
}

function describeSelection(selection: ItemSelection): string {
  const n = (selection.keys?.length ?? 0) + (selection.paths?.length ?? 0);
  return n === 0 ? 'all items' : `${n} selected item${n === 1 ? '' : 's'}`;
}

/** Why an armored public key cannot be used for encryption, or null. */
export async function publicKeyProblem(armored: string | undefined): Promise<string | null> {
  if (!armored?.trim()) return 'Paste the armored OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----).';
  if (armored.length > 100_000) return 'This key is too large.';
  try {
    const { readKey } = await import('openpgp');
    const key = await readKey({ armoredKey: armored.trim() });
    if (key.isPrivate()) return 'This is a private key: paste the public key instead.';
    await key.getEncryptionKey();
    return null;
  } catch {
    return 'This is not an OpenPGP public key that can encrypt (armored, with an encryption subkey).';
  }
}
