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
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { JOB_LABEL_MAX } from '../jobs/entities.ts';
import type { RestoreMode } from '../plugins/service.ts';
import type { ExportEncryption, ExportFormat } from '../recovery/entities.ts';
import {
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
    const { task } = await recoveryTarget(c);
    const destinations = await c
      .get('em')
      .find(
        TaskEntity,
        { task, deletedAt: null, status: { $ne: 'archived' } },
        { orderBy: { name: 'asc' }, limit: 500 },
      );
    return renderPage(
      c,
      deps,
      'pages/recovery/restore.njk',
      {
        ...context,
        title: `Restore · ${context.entity.name}`,
        destinations: destinations.map((d) => ({ id: d.id, name: d.name })),
        values: { destination: context.entity.id, mode: 'non_destructive', label: '', ...values },
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

  // ---- Export (Download) ----
  async function exportForm(c: Context<AppEnv>, selection: Selection, values: Record<string, string>, errors = {}) {
    const context = await formContext(c, selection);
    const locations = await availableLocations(c.get('em'), organizationOf(c));
    return renderPage(
      c,
      deps,
      'pages/recovery/export.njk',
      {
        ...context,
        title: `Download · ${context.entity.name}`,
        locations: locations.map((l) => ({ id: l.id, name: l.name })),
        minPassphrase: MIN_EXPORT_PASSPHRASE,
        // Secrets typed in are never put back into the page.
        values: { format: 'zip', encryption: 'none', location: '', label: '', ...values, passphrase: '' },
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
