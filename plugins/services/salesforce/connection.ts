// A connection to one Salesforce org: check, discovery (one entity per queryable object), the
// backup of one object, restores (records: restore.ts; metadata: metadata-restore.ts; the options around them)
// and the recovery steps restores leave. Loaded (with jsforce) only when a task connects.
import type { Logger } from '../../../core/plugins/service.ts';
import {
  type BackupOutcome,
  type BackupRun,
  type CheckResult,
  type DiscoveredEntity,
  type RestoreOutcome,
  type RestorePlan,
  type RestorePlanRun,
  type RestoreRun,
  ServiceAuthError,
  type ServiceConnection,
  TransientServiceError,
} from '../../../core/plugins/service.ts';
import type { RetryPolicy } from '../../../core/plugins/sink-support/retry.ts';
import type { SalesforceApp } from './app.ts';
import { type SwitchedComponent, switchAutomationOn, withAutomationOff } from './automation.ts';
import { backupObject, type SalesforceState } from './backup.ts';
import { backupLinks, LINK_OBJECT } from './links.ts';
import { backupMetadataType, METADATA_PREFIX, type MetadataState } from './metadata.ts';
import { restoreMetadata } from './metadata-restore.ts';
import { salesforceRestoreOptions } from './restore-options.ts';
import { API_VERSION, BudgetExhausted, SalesforceApi, type SalesforceSettings } from './session.ts';
import { setUsersActive } from './users.ts';

/** The entity kind of an object's records. */
export const DATA = 'data';
/** The entity kind of a metadata type's components (Metadata API). */
export const METADATA = 'metadata';

/** What a run hands the next: an object's (records) or a metadata type's. */
export type SalesforceRunState = SalesforceState | MetadataState;

/**
 * Objects that are queryable but answer MALFORMED_QUERY ("Implementation restriction") to a query
 * without a filter on one record id: they cannot be read whole, so they are not entities (their
 * rows are reached through their parents). Logged at discovery with the reason. ContentDocumentLink
 * is the exception: it is read through every file's id (links.ts), so files keep all their shares.
 */
export const FILTER_REQUIRED = new Set([
  'ContentDocumentLink',
  'ContentFolderItem',
  'ContentFolderMember',
  'DataStatistics',
  'EntityParticle',
  'FieldDefinition',
  'FlexQueueItem',
  'IdeaComment',
  'KnowledgeArticleVersion',
  'ListViewChartInstance',
  'OwnerChangeOptionInfo',
  'PicklistValueInfo',
  'PlatformAction',
  'RelationshipDomain',
  'RelationshipInfo',
  'SearchLayout',
  'UserEntityAccess',
  'UserFieldAccess',
  'Vote',
]);

export interface ConnectOptions {
  retry?: RetryPolicy;
  /** Full reads of objects with this many rows use the Bulk API (tests lower it). */
  bulkThreshold?: number;
  /** Wait between status checks of a bulk query job and of a metadata retrieve. */
  bulkPollMs?: number;
  /** A restore writes more records of one object than this through a Bulk API 2.0 job (tests lower it). */
  bulkWriteThreshold?: number;
  /** Records a restore reads into memory at once (restore-store's page; tests lower it). */
  restorePageSize?: number;
}

export async function connectSalesforce(
  app: SalesforceApp,
  settings: SalesforceSettings,
  context: { signal: AbortSignal; log: Logger },
  options: ConnectOptions = {},
): Promise<SalesforceConnection> {
  const api = new SalesforceApi(app, settings, context.log, options.retry);
  const { orgId } = await api.login(context.signal);
  // The task's snapshots belong to one org: credentials of another are refused, not followed.
  if (settings.orgId && orgId !== settings.orgId) {
    throw new ServiceAuthError(
      `These credentials reach the Salesforce org ${orgId}, not the task's org ${settings.orgId}: authenticate with a user of the task's org.`,
    );
  }
  return new SalesforceConnection(api, context.log, options);
}

export class SalesforceConnection implements ServiceConnection<SalesforceRunState> {
  readonly api: SalesforceApi;
  readonly #log: Logger;
  readonly #options: ConnectOptions;

  constructor(api: SalesforceApi, log: Logger, options: ConnectOptions = {}) {
    this.api = api;
    this.#log = log;
    this.#options = options;
  }

  async check(signal: AbortSignal): Promise<CheckResult> {
    try {
      const identity = await this.api.call('reading the identity', () => this.api.conn.identity(), signal);
      return { ok: true, account: identity.organization_id };
    } catch (err) {
      if (err instanceof ServiceAuthError) return { ok: false, reason: err.message };
      throw err;
    }
  }

  /** Every object that can be queried (the others are logged with the reason), then every metadata type. */
  async *discover(signal: AbortSignal): AsyncIterable<DiscoveredEntity> {
    const global = await this.api.call('listing objects', () => this.api.conn.describeGlobal(), signal);
    const skipped: string[] = [];
    const filtered: string[] = [];
    const documents = global.sobjects.some((o) => o.name === 'ContentDocument' && o.queryable);
    for (const o of global.sobjects) {
      if (!o.queryable) skipped.push(o.name);
      else if (o.name === LINK_OBJECT && documents) yield { externalId: o.name, name: o.name, kind: DATA };
      else if (FILTER_REQUIRED.has(o.name)) filtered.push(o.name);
      else yield { externalId: o.name, name: o.name, kind: DATA };
    }
    if (skipped.length) {
      this.#log.info(
        { objects: skipped.slice(0, 200), count: skipped.length },
        'Salesforce objects not backed up: the org does not allow querying them (queryable = false)',
      );
    }
    if (filtered.length) {
      this.#log.info(
        { objects: filtered },
        'Salesforce objects not backed up: Salesforce answers a query of them only with a filter on one record id',
      );
    }
    let types: { xmlName: string }[];
    try {
      const described = await this.api.call(
        'listing metadata types',
        () => this.api.conn.metadata.describe(API_VERSION),
        signal,
      );
      types = described.metadataObjects ?? [];
    } catch (err) {
      if (err instanceof ServiceAuthError || err instanceof TransientServiceError || err instanceof BudgetExhausted)
        throw err;
      // A user without "Modify Metadata" / "Author Apex" cannot read metadata: records are still backed up.
      this.#log.warn({ err: (err as Error).message }, 'Salesforce metadata types not listed: the Metadata API refused');
      return;
    }
    for (const t of types) yield { externalId: `${METADATA_PREFIX}${t.xmlName}`, name: t.xmlName, kind: METADATA };
  }

  /**
   * A metadata replicate deploys the round's components to the target (replicate-metadata.ts).
   * Records go to the record restore (restore.ts), which runs its writes inside the options'
   * wrappers; metadata components are deployed back (metadata-restore.ts), with "Disable triggers
   * in restore" around the deploy for the objects named in `automationObjects`.
   */
  async restore(run: RestoreRun): Promise<RestoreOutcome> {
    const options = salesforceRestoreOptions.parse(run.options);
    if (options.replicate?.what === 'metadata') {
      const { replicateMetadata } = await import('./replicate-metadata.ts');
      return replicateMetadata(this.api, run, options.replicate, this.#options.bulkPollMs);
    }
    if (run.entity.kind === DATA) {
      const { restoreRecords } = await import('./restore.ts');
      return restoreRecords(
        this.api,
        run,
        new Date(),
        this.#options.bulkPollMs,
        this.#options.bulkWriteThreshold,
        this.#options.restorePageSize,
      );
    }
    const objects = options.disableAutomation ? (options.automationObjects ?? []) : [];
    const deploy = () => restoreMetadata(this.api, run, this.#options.bulkPollMs);
    if (objects.length === 0) return deploy();
    return withAutomationOff(this.api, objects, run.recovery, this.#context(run), deploy);
  }

  #context(run: RestoreRun) {
    return {
      signal: run.signal,
      log: run.log,
      step: run.step,
      ...(this.#options.bulkPollMs !== undefined ? { pollMs: this.#options.bulkPollMs } : {}),
    };
  }

  /** A recovery step a restore left (automation to switch back on, users to deactivate again). */
  async recover(payload: Record<string, unknown>, context: { signal: AbortSignal; log: Logger }): Promise<void> {
    const ctx = {
      ...context,
      ...(this.#options.bulkPollMs !== undefined ? { pollMs: this.#options.bulkPollMs } : {}),
    };
    if (payload.action === 'automation-on') {
      await switchAutomationOn(this.api, (payload.components ?? []) as SwitchedComponent[], ctx);
      return;
    }
    if (payload.action === 'deactivate-users') {
      const refused = await setUsersActive(this.api, (payload.ids ?? []) as string[], false, ctx);
      if (refused.length) {
        throw new Error(`Salesforce refused to deactivate ${refused.map((r) => `${r.id} (${r.reason})`).join(', ')}`);
      }
      return;
    }
    throw new Error(`unknown Salesforce recovery step ${String(payload.action)}`);
  }

  backup(run: BackupRun<SalesforceRunState>): Promise<BackupOutcome<SalesforceRunState>> {
    if (run.entity.kind === METADATA) {
      return backupMetadataType({
        api: this.api,
        run: run as BackupRun<MetadataState>,
        ...(this.#options.bulkPollMs !== undefined ? { pollMs: this.#options.bulkPollMs } : {}),
      });
    }
    if (run.entity.externalId === LINK_OBJECT) {
      return backupLinks({ api: this.api, run: run as BackupRun<SalesforceState> });
    }
    return backupObject({
      api: this.api,
      run: run as BackupRun<SalesforceState>,
      ...(this.#options.bulkThreshold !== undefined ? { bulkThreshold: this.#options.bulkThreshold } : {}),
      ...(this.#options.bulkPollMs !== undefined ? { bulkPollMs: this.#options.bulkPollMs } : {}),
    });
  }

  async plan(run: RestorePlanRun): Promise<RestorePlan> {
    if (run.entity.kind !== DATA) return { columns: [], rows: [], notes: [] };
    const { planRecords } = await import('./restore.ts');
    return planRecords(this.api, run, this.#options.restorePageSize);
  }
}
