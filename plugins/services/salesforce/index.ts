// The Salesforce service plugin: an org connected through the appliance's connected app (OAuth 2
// web-server flow with PKCE, or the JWT bearer flow for tasks created through the API), backing
// up each queryable object's records. jsforce loads when a task connects, not when the registry
// is imported. See README.md.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ServiceAppSettings, ServicePlugin } from '../../../core/plugins/service.ts';
import { TEMPLATE_COLUMNS, templateRows } from './anonymize.ts';
import { authorizationUrl, myDomainProblem, SALESFORCE_APP_SETTINGS, salesforceApp } from './app.ts';
import type { ConnectOptions, SalesforceRunState } from './connection.ts';
import type { SalesforceChoices } from './oauth.ts';
import { salesforcePresentation } from './presentation.ts';
import { checkReplicateTarget } from './replicate.ts';
import { replicateForm } from './replicate-form.ts';
import { salesforceRestoreOptions } from './restore-options.ts';
import type { SalesforceSettings } from './session.ts';

export { SALESFORCE_APP_SETTINGS, type SalesforceApp, salesforceApp } from './app.ts';
export type { SalesforceState } from './backup.ts';
export type { SalesforceRunState } from './connection.ts';
export type { MetadataState } from './metadata.ts';
export type { SalesforceChoices } from './oauth.ts';
export type { SalesforceSettings } from './session.ts';

export const SALESFORCE_KIND = 'salesforce';

const connectFirst = { error: 'Connect with Salesforce first.' };

const ENVIRONMENTS = ['production', 'sandbox', 'mydomain'] as const;

const environment = z
  .enum(ENVIRONMENTS)
  .default('production')
  .describe('Environment (where the org signs in; fixed once connected)')
  .meta({ choiceLabels: { production: 'Production', sandbox: 'Sandbox', mydomain: 'My Domain URL' } });

const myDomainUrl = z
  .string()
  .trim()
  .optional()
  .describe('My Domain URL (only for My Domain: https://<domain>.my.salesforce.com)');

/** A My Domain environment needs a valid My Domain URL (or the appliance's stand-in). */
function checkMyDomain(
  s: { environment: string; myDomainUrl?: string | undefined },
  ctx: z.RefinementCtx,
  standIn: string | undefined,
): void {
  if (s.environment !== 'mydomain') return;
  const problem = s.myDomainUrl ? myDomainProblem(s.myDomainUrl, standIn) : 'Enter the org’s My Domain URL.';
  if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['myDomainUrl'] });
}

/** The task's settings; `standIn` is the appliance's stand-in login URL, if it has one. */
function settingsSchema(standIn: () => string | undefined) {
  return z
    .object({
      environment,
      myDomainUrl,
      orgId: z.string(connectFirst).regex(/^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/, {
        error: 'An org id starts with 00D and has 15 or 18 characters.',
      }),
      orgName: z.string().optional(),
      refreshToken: z.string().min(1).optional(),
      username: z.string().min(1).optional().describe('Integration username (JWT bearer flow)'),
      privateKey: z.string().min(1).optional().describe('Private key, PEM (JWT bearer flow)'),
      // Made once when the task is connected; sealed with the settings, never shown.
      anonymizationKey: z
        .string()
        .regex(/^[A-Za-z0-9_-]{43}$/)
        .default(() => randomBytes(32).toString('base64url')),
    })
    .refine((s) => !!s.refreshToken || (!!s.username && !!s.privateKey), {
      error: 'Connect with Salesforce, or give the integration username and private key of the JWT bearer flow.',
      path: ['refreshToken'],
    })
    .superRefine((s, ctx) => checkMyDomain(s, ctx, standIn()));
}

/** Asked on the add-task page before the sign-in at Salesforce; stored with the task. */
function choicesSchema(standIn: () => string | undefined) {
  return z
    .object({ environment, myDomainUrl })
    .superRefine((s, ctx) => checkMyDomain(s, ctx, standIn()))
    .transform((s): SalesforceChoices => {
      if (s.environment !== 'mydomain' || !s.myDomainUrl) return { environment: s.environment };
      return { environment: s.environment, myDomainUrl: new URL(s.myDomainUrl).origin };
    });
}

/** The export dialog's Salesforce choices (seed 4.1.1.2: "Export deleted items", "Metadata"). */
const exportOptions = z.object({
  deletedRecords: z
    .boolean()
    .default(false)
    .describe('Export deleted records (records earlier snapshots hold and this one does not, in a CSV of their own)'),
  metadataPackage: z
    .boolean()
    .default(true)
    .describe(
      'Metadata as a deployable package (metadata types: one zip with package.xml and the components; otherwise loose files)',
    ),
});

/**
 * A Salesforce plugin descriptor. The built-in one gets its connected app from the appliance
 * configuration through `configure`; tests may pass one (and connection options) directly.
 */
export function createSalesforcePlugin(
  fixed?: ServiceAppSettings,
  options: ConnectOptions = {},
): ServicePlugin<SalesforceSettings, SalesforceRunState> {
  let app: ServiceAppSettings = fixed ?? {};
  const standIn = () => app.loginUrl;
  const choices = choicesSchema(standIn);
  return {
    kind: SALESFORCE_KIND,
    label: 'Salesforce',
    settings: settingsSchema(standIn) as unknown as z.ZodType<SalesforceSettings>,
    secretSettings: ['refreshToken', 'privateKey', 'anonymizationKey'],
    // Replicas are anonymized the same way in every run: a re-authentication keeps the key.
    keptOnReconnect: ['anonymizationKey'],
    entityKinds: [
      { kind: 'data', label: 'Data' },
      { kind: 'metadata', label: 'Metadata' },
    ],
    apiUsageLimit: true,
    smartAlerts: true,
    restoreOptions: salesforceRestoreOptions as unknown as z.ZodType<Record<string, unknown>>,
    // Records go back to their object (a mode of restoreOptions says how), never into a folder.
    restoreModes: ['in_place'],
    // To the same object of another task's org (a Sandbox, another Production org).
    restoreToOtherTasks: true,
    restoreToOtherEntities: false,
    // Replicate (seed 6.3.1): a backup round's records to a Sandbox task, anonymized on request.
    replicate: {
      anchorEntity: 'Account',
      description:
        'Copies records of a backup to a Sandbox org: every object (Full Organization), or chosen parent objects with a filter, a record limit and their child records. Anonymization replaces personal data with consistent fake values. Or deploys its metadata there: every type, or the types named. Runs as a restore job on the Jobs page.',
      form: replicateForm as unknown as z.ZodType<Record<string, unknown>>,
      targetProblem: replicateTargetProblem,
      download: {
        label: 'Download the anonymization template',
        fileName: 'anonymization-template.csv',
        header: TEMPLATE_COLUMNS,
        rows: templateRows,
      },
    },
    // Incremental and layered: a run stores only the records that changed and deletes the deleted.
    snapshots: { mode: 'incremental', layered: true },
    // The object or metadata type fills the catalog's path, the creator its author and the last
    // modifier its editor (CreatedById, LastModifiedById); the date is SystemModstamp.
    searchFields: [
      { name: 'object', label: 'Object or metadata type', column: 'path' },
      { name: 'name', label: 'Name', column: 'name' },
      { name: 'createdBy', label: 'Created by (user id)', column: 'author' },
      { name: 'updatedBy', label: 'Updated by (user id)', column: 'editor' },
      { name: 'modified', label: 'Last modified', column: 'modified' },
    ],
    // Records listed flat (no folders), searched by Id, each shown as its fields.
    presentation: salesforcePresentation,
    appSettings: SALESFORCE_APP_SETTINGS,
    configure(values) {
      if (!fixed) app = values;
    },
    oauth: {
      choices: choices as unknown as z.ZodType<Record<string, unknown>>,
      authorizationUrl: (input) =>
        authorizationUrl(salesforceApp(app), { ...input, ...choices.parse(input.choices ?? {}) }),
      exchangeCode: async (input, context) =>
        (await import('./oauth.ts')).exchangeCode(
          salesforceApp(app),
          { ...input, choices: choices.parse(input.choices ?? {}) },
          context,
        ),
    },
    // A task stays with the org it was connected to: its objects and snapshots belong to that org.
    accountOf: (s) => ({ id: s.orgId, label: `the Salesforce org ${s.orgName ? `“${s.orgName}” ` : ''}(${s.orgId})` }),
    exportOptions: exportOptions as unknown as z.ZodType<Record<string, unknown>>,
    async *exportArchive(run) {
      yield* (await import('./export.ts')).exportSalesforce(run);
    },
    async connect(s, context) {
      const { connectSalesforce } = await import('./connection.ts');
      return connectSalesforce(salesforceApp(app), s, context, options);
    },
    // Undoes what a restore changed for its duration (automation off, users activated).
    async recover(connection, payload, context) {
      const { SalesforceConnection } = await import('./connection.ts');
      if (!(connection instanceof SalesforceConnection)) throw new Error('not a Salesforce connection');
      await connection.recover(payload, context);
    },
  };
}

/** The built-in plugin's connection options: the defaults, or what `tuneSalesforce` set. */
const builtInOptions: ConnectOptions = {};

/**
 * Sets the built-in plugin's connection options (retry delays, the Bulk API threshold) for the
 * tasks connected from now on: tests and demos that want fast retries against the stand-in.
 */
export function tuneSalesforce(options: ConnectOptions): void {
  for (const key of Object.keys(builtInOptions)) delete builtInOptions[key as keyof ConnectOptions];
  Object.assign(builtInOptions, options);
}

const salesforcePlugin = createSalesforcePlugin(undefined, builtInOptions);
export default salesforcePlugin;

/** Only a Sandbox takes a replicate (the job checks again with the same words). */
function replicateTargetProblem(settings: unknown): string | null {
  const s = settings as Partial<SalesforceSettings>;
  try {
    checkReplicateTarget({ environment: s.environment ?? 'production', orgName: s.orgName });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
