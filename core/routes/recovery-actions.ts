// The restore and download forms of the Recovery pages. A selection arrives from a snapshot list
// (one snapshot: everything in it), a browsed folder (chosen files and folders, or the folder
// itself) or an item search (items of possibly different snapshots: one job per snapshot). The
// form asks what the seed asks — restore to where and how, or download as what, encrypted or not,
// kept for download or written to a storage location — and starts the jobs through
// core/recovery/start.ts, which checks everything again; then the Jobs page shows them.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { entitySnapshot } from '../catalog/browse.ts';
import { AppError, NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { renderFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { JOB_LABEL_MAX } from '../jobs/entities.ts';
import { servicePlugin } from '../plugins/registry.ts';
import type { RestoreMode, RestorePlan, ServicePlugin } from '../plugins/service.ts';
import { formFieldsOf } from '../plugins/settings-form.ts';
import type { ExportEncryption, ExportFormat } from '../recovery/entities.ts';
import { planRestore } from '../recovery/plan.ts';
import {
  exportOptionKey,
  MIN_EXPORT_PASSPHRASE,
  type StartContext,
  type StartedJob,
  startExport,
  startRestore,
} from '../recovery/start.ts';
import { availableLocations } from '../storage-locations/locations.ts';
import { TaskEntity } from '../tasks/entities.ts';
import { formFields, formLists } from './forms.ts';
import { recoveryTarget, requireRecoveryAccess } from './recovery.ts';

/** What was chosen on the Recovery pages, grouped by snapshot. */
interface Selection {
  groups: { snapshotId: string; keys: string[]; paths: string[] }[];
  /** The hidden fields that carry it through the form again. */
  hidden: { name: string; value: string }[];
  summary: string;
}

const MAX_PICKS = 10_000;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Reads the selection from the query (GET) or the form (POST): snapshot + key/folder/within, or pick. */
function readSelection(lists: { key: string[]; folder: string[]; pick: string[] }, snapshot: string, within: string) {
  const hidden: Selection['hidden'] = [];
  if (lists.pick.length) {
    const bySnapshot = new Map<string, string[]>();
    for (const pick of lists.pick.slice(0, MAX_PICKS)) {
      const space = pick.indexOf(' ');
      if (space <= 0) continue;
      const id = pick.slice(0, space);
      const key = pick.slice(space + 1);
      bySnapshot.set(id, [...(bySnapshot.get(id) ?? []), key]);
      hidden.push({ name: 'pick', value: pick });
    }
    const groups = [...bySnapshot].map(([snapshotId, keys]) => ({ snapshotId, keys, paths: [] }));
    return { groups, hidden, summary: `${plural(hidden.length, 'item')} found by search` };
  }
  if (!snapshot) return { groups: [], hidden, summary: '' };
  hidden.push({ name: 'snapshot', value: snapshot });
  const keys = lists.key.slice(0, MAX_PICKS);
  const folders = lists.folder.slice(0, MAX_PICKS);
  for (const key of keys) hidden.push({ name: 'key', value: key });
  for (const folder of folders) hidden.push({ name: 'folder', value: folder });
  if (keys.length || folders.length) {
    const parts = [
      ...(keys.length ? [plural(keys.length, 'file')] : []),
      ...(folders.length ? [plural(folders.length, 'folder')] : []),
    ];
    return { groups: [{ snapshotId: snapshot, keys, paths: folders }], hidden, summary: parts.join(' and ') };
  }
  if (within) {
    hidden.push({ name: 'within', value: within });
    return { groups: [{ snapshotId: snapshot, keys: [], paths: [within] }], hidden, summary: `the folder ${within}` };
  }
  return { groups: [{ snapshotId: snapshot, keys: [], paths: [] }], hidden, summary: 'everything in the snapshot' };
}

/** The plugin's restore options as form fields, named `options.<name>` on the restore form. */
function restoreOptionFields(plugin: ServicePlugin | undefined) {
  if (!plugin?.restoreOptions) return [];
  return formFieldsOf(plugin.restoreOptions, []).map((f) => ({ ...f, inputName: `options.${f.name}` }));
}

/** The `options.<name>` fields of a submitted restore form. */
function optionsOf(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (name.startsWith('options.')) out[name.slice(8)] = value;
  return out;
}

function fromQuery(c: Context<AppEnv>): Selection {
  return readSelection(
    { key: c.req.queries('key') ?? [], folder: c.req.queries('folder') ?? [], pick: c.req.queries('pick') ?? [] },
    c.req.query('snapshot') ?? '',
    (c.req.query('within') ?? '').replace(/^\/+|\/+$/g, ''),
  );
}

async function fromForm(c: Context<AppEnv>): Promise<{ fields: Record<string, string>; selection: Selection }> {
  const fields = await formFields(c);
  const lists = await formLists(c, ['key', 'folder', 'pick']);
  const selection = readSelection(
    { key: lists.key ?? [], folder: lists.folder ?? [], pick: lists.pick ?? [] },
    fields.snapshot ?? '',
    (fields.within ?? '').replace(/^\/+|\/+$/g, ''),
  );
  return { fields, selection };
}

export function recoveryActionRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const base = '/recovery/tasks/:taskId/entities/:entityId';
  app.use(`${base}/restore`, requireUser(deps), requireRecoveryAccess, requirePermission('restore'));
  app.use(`${base}/restore/plan`, requireUser(deps), requireRecoveryAccess, requirePermission('restore'));
  app.use(`${base}/export`, requireUser(deps), requireRecoveryAccess, requirePermission('export_download'));

  /** The page around the form: what is recovered from where, and the choices the form offers. */
  async function formContext(c: Context<AppEnv>, selection: Selection) {
    const em = c.get('em');
    const { task, entity, plugin } = await recoveryTarget(c);
    const scope = { task: task.id, entity: entity.externalId };
    if (selection.groups.length === 0) {
      throw new AppError('nothing_selected', 'Choose a snapshot, or items found by search, first.', 400);
    }
    // Every snapshot named must be this entity's: another one is "not found", as everywhere here.
    const snapshots = [];
    for (const group of selection.groups) {
      const snapshot = await entitySnapshot(em, scope, group.snapshotId);
      if (!snapshot) throw new NotFoundError('No such snapshot of this user, team folder or object.');
      snapshots.push(snapshot);
    }
    return {
      task: { id: task.id, name: task.name, service: plugin?.label ?? task.service },
      entity: { id: entity.id, name: entity.name },
      snapshots,
      selection,
      back: `/recovery/tasks/${task.id}/entities/${entity.id}`,
      labelMax: JOB_LABEL_MAX,
    };
  }

  function startContext(c: Context<AppEnv>): StartContext {
    return {
      em: c.get('em'),
      principal: principalOf(c),
      organization: organizationOf(c),
      actor: auditActorOf(c, deps),
      credentials: deps.credentials,
      now: deps.now(),
      maxAttempts: deps.config.jobMaxAttempts,
    };
  }

  /** Starts one job per snapshot of the selection; the first refusal is shown on the form. */
  async function startAll(
    selection: Selection,
    start: (group: Selection['groups'][number]) => Promise<StartedJob>,
  ): Promise<StartedJob[]> {
    const started: StartedJob[] = [];
    for (const group of selection.groups) started.push(await start(group));
    return started;
  }

  // ---- Restore ----
  async function restoreForm(c: Context<AppEnv>, selection: Selection, values: Record<string, string>, errors = {}) {
    const context = await formContext(c, selection);
    const { task, entity, plugin } = await recoveryTarget(c);
    const optionFields = restoreOptionFields(plugin);
    const optionDefaults = Object.fromEntries(
      optionFields.filter((f) => f.defaultValue !== null).map((f) => [f.inputName, f.defaultValue as string]),
    );
    const destinations = await c.get('em').find(
      TaskEntity,
      {
        task,
        deletedAt: null,
        status: { $ne: 'archived' },
        // Records go back to their own object only.
        ...(plugin?.restoreToOtherEntities === false ? { id: entity.id } : {}),
      },
      { orderBy: { name: 'asc' }, limit: 500 },
    );
    // The same object of the organization's other tasks of this service (another org, a Sandbox).
    const elsewhere = plugin?.restoreToOtherTasks
      ? await c.get('em').find(
          TaskEntity,
          {
            externalId: entity.externalId,
            deletedAt: null,
            task: { organization: organizationOf(c), service: task.service, deletedAt: null, id: { $ne: task.id } },
          },
          { populate: ['task'], orderBy: { task: { name: 'asc' } }, limit: 100 },
        )
      : [];
    return renderPage(
      c,
      deps,
      'pages/recovery/restore.njk',
      {
        ...context,
        title: `Restore · ${context.entity.name}`,
        destinations: [
          ...destinations.map((d) => ({ id: d.id, name: d.name })),
          ...elsewhere.map((d) => ({ id: d.id, name: `${d.name} in ${d.task.name}` })),
        ],
        optionFields,
        otherTasks: !!plugin?.restoreToOtherTasks,
        // A service with one restore method offers no choice (Salesforce records: in place).
        onlyMode: plugin?.restoreModes?.length === 1 ? plugin.restoreModes[0] : null,
        values: {
          destination: context.entity.id,
          mode: plugin?.restoreModes?.[0] ?? 'non_destructive',
          label: '',
          ...optionDefaults,
          ...values,
        },
        errors,
      },
      Object.keys(errors).length ? 422 : 200,
    );
  }

  app.get(`${base}/restore`, (c) => restoreForm(c, fromQuery(c), {}));

  app.post(`${base}/restore`, async (c) => {
    const { fields, selection } = await fromForm(c);
    const { task, entity } = await recoveryTarget(c);
    await formContext(c, selection);
    try {
      await startAll(selection, (group) =>
        startRestore(startContext(c), {
          taskId: task.id,
          entityId: entity.id,
          snapshotId: group.snapshotId,
          keys: group.keys,
          paths: group.paths,
          label: fields.label,
          destinationEntityId: fields.destination || undefined,
          mode: fields.mode as RestoreMode,
          options: optionsOf(fields),
          optionsFrom: 'form',
        }),
      );
    } catch (err) {
      if (err instanceof ValidationError) return restoreForm(c, selection, fields, err.fields ?? {});
      throw err;
    }
    return redirectWithFlash(
      c,
      deps,
      '/jobs',
      'The restore has started. Its progress shows below; the result is also in System Activity.',
    );
  });

  // What the restore will do, before it starts (htmx: the dialog's "Show what will happen").
  app.get(`${base}/restore/plan`, async (c) => {
    const selection = fromQuery(c);
    const { task, entity } = await recoveryTarget(c);
    await formContext(c, selection);
    const query = Object.fromEntries(Object.entries(c.req.query()).map(([k, v]) => [k, String(v)]));
    const group = selection.groups[0];
    let plan: RestorePlan | null = null;
    let problem: string | null = null;
    if (!deps.storage) problem = 'What the restore will do cannot be shown on this appliance.';
    else if (selection.groups.length > 1)
      problem = 'Items of several snapshots are chosen: each is restored as a job of its own.';
    else if (group) {
      try {
        plan = await planRestore(
          {
            storage: deps.storage,
            services: servicePlugin,
            credentials: deps.credentials,
            log: c.get('log'),
            signal: AbortSignal.timeout(120_000),
            dataDir: deps.config.dataDir,
          },
          startContext(c),
          {
            taskId: task.id,
            entityId: entity.id,
            snapshotId: group.snapshotId,
            keys: group.keys,
            paths: group.paths,
            destinationEntityId: query.destination || undefined,
            mode: (query.mode === 'in_place' ? 'in_place' : 'non_destructive') as RestoreMode,
            options: optionsOf(query),
            optionsFrom: 'form',
          },
        );
        if (!plan) problem = 'This service says nothing more before a restore: it writes the chosen items.';
      } catch (err) {
        if (err instanceof ValidationError) problem = Object.values(err.fields ?? {}).join(' ') || err.message;
        else if (err instanceof AppError) problem = err.message;
        else problem = `What the restore will do could not be worked out: ${(err as Error).message}`;
      }
    }
    return renderFragment(c, deps.views, 'partials/recovery/restore-plan.njk', { plan, problem });
  });

  // ---- Export (Download) ----
  /** The service's export options as generated form fields (named `options.<name>`). */
  function exportOptionFields(plugin: ServicePlugin | undefined) {
    if (!plugin?.exportOptions) return [];
    return formFieldsOf(plugin.exportOptions, []).map((f) => ({ ...f, inputName: exportOptionKey(f.name) }));
  }

  function optionDefaults(fields: ReturnType<typeof exportOptionFields>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of fields) {
      if (f.defaultValue !== null)
        out[f.inputName] = f.input === 'checkbox' ? (f.defaultValue === 'true' ? 'on' : '') : f.defaultValue;
    }
    return out;
  }

  /** The submitted `options.<name>` fields, by option name. */
  function optionsFromForm(fields: Record<string, string>): Record<string, string> {
    const prefix = exportOptionKey('');
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields))
      if (name.startsWith(prefix)) out[name.slice(prefix.length)] = value;
    return out;
  }

  async function exportForm(c: Context<AppEnv>, selection: Selection, values: Record<string, string>, errors = {}) {
    const context = await formContext(c, selection);
    const locations = await availableLocations(c.get('em'), organizationOf(c));
    const optionFields = exportOptionFields((await recoveryTarget(c)).plugin);
    return renderPage(
      c,
      deps,
      'pages/recovery/export.njk',
      {
        ...context,
        title: `Download · ${context.entity.name}`,
        locations: locations.map((l) => ({ id: l.id, name: l.name })),
        minPassphrase: MIN_EXPORT_PASSPHRASE,
        optionFields,
        // Secrets typed in are never put back into the page.
        values: {
          format: 'zip',
          encryption: 'none',
          location: '',
          label: '',
          ...optionDefaults(optionFields),
          ...values,
          passphrase: '',
        },
        errors,
      },
      Object.keys(errors).length ? 422 : 200,
    );
  }

  app.get(`${base}/export`, (c) => exportForm(c, fromQuery(c), {}));

  app.post(`${base}/export`, async (c) => {
    const { fields, selection } = await fromForm(c);
    const { task, entity } = await recoveryTarget(c);
    await formContext(c, selection);
    try {
      await startAll(selection, (group) =>
        startExport(startContext(c), {
          taskId: task.id,
          entityId: entity.id,
          snapshotId: group.snapshotId,
          keys: group.keys,
          paths: group.paths,
          label: fields.label,
          format: fields.format as ExportFormat,
          encryption: fields.encryption as ExportEncryption,
          passphrase: fields.passphrase,
          publicKey: fields.publicKey,
          locationId: fields.location || null,
          options: optionsFromForm(fields),
          optionsFrom: 'form',
        }),
      );
    } catch (err) {
      if (err instanceof ValidationError) return exportForm(c, selection, fields, err.fields ?? {});
      throw err;
    }
    return redirectWithFlash(
      c,
      deps,
      '/jobs',
      'The export has started. When it succeeds, Download Results is offered here for 72 hours.',
    );
  });

  return app;
}
