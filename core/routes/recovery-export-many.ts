// "Export selected" of a task page: several entities (objects, users, folders) of one task, each
// from its latest snapshot, exported as one job into one archive (the export job's parts). The
// dialog offers the same choices as one entity's Download; the job is started by startExport,
// which checks each entity and snapshot again. Ticked entries without a backup yet are named as
// left out; when none has one, the task page says so. Another task's entry is a 404.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { JOB_LABEL_MAX } from '../jobs/entities.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { formFieldsOf } from '../plugins/settings-form.ts';
import type { ExportEncryption, ExportFormat } from '../recovery/entities.ts';
import { MAX_EXPORT_PARTS } from '../recovery/params.ts';
import { exportOptionKey, MIN_EXPORT_PASSPHRASE, type StartContext, startExport } from '../recovery/start.ts';
import { availableLocations } from '../storage-locations/locations.ts';
import { type ITaskEntity, TaskEntity } from '../tasks/entities.ts';
import { getTask } from '../tasks/tasks-service.ts';
import { formFields, formLists } from './forms.ts';
import { requireRecoveryAccess } from './recovery.ts';

export function recoveryExportManyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const path = '/recovery/tasks/:taskId/export';
  app.use(path, requireUser(deps), requireRecoveryAccess, requirePermission('export_download'));

  /** "A", "A and B", "A, B and C". */
  function names(list: readonly ITaskEntity[]): string {
    const all = list.map((e) => e.name);
    return all.length < 2 ? (all[0] ?? '') : `${all.slice(0, -1).join(', ')} and ${all.at(-1)}`;
  }

  /**
   * The task and its chosen entities in name order: those with a snapshot, and those left out for
   * having none. An id that is not an entry of this task (another task's) is a 404.
   */
  async function chosen(c: Context<AppEnv>, ids: readonly string[]) {
    const em = c.get('em');
    const task = await getTask(em, organizationOf(c), c.req.param('taskId') ?? '');
    const wanted = [...new Set(ids)].slice(0, MAX_EXPORT_PARTS + 1);
    if (wanted.some((id) => id.length > 36)) throw new NotFoundError('No such entry in this backup task.');
    const found = wanted.length
      ? await em.find(TaskEntity, { task, id: { $in: wanted }, deletedAt: null }, { orderBy: { name: 'asc' } })
      : [];
    if (found.length !== wanted.length) throw new NotFoundError('No such entry in this backup task.');
    return {
      task,
      entities: found.filter((e) => e.lastSnapshotId !== null),
      leftOut: found.filter((e) => e.lastSnapshotId === null),
    };
  }

  /** With nothing to export, back to the task page with the reason (a bare 404 told nothing). */
  function nothingToExport(c: Context<AppEnv>, taskId: string, leftOut: readonly ITaskEntity[]) {
    const text = leftOut.length
      ? `Nothing to export: ${names(leftOut)} ${leftOut.length === 1 ? 'has' : 'have'} no backup yet. Back ${leftOut.length === 1 ? 'it' : 'them'} up first (Backup now), then export ${leftOut.length === 1 ? 'it' : 'them'}.`
      : 'Select at least one entry in the table first.';
    return redirectWithFlash(c, deps, `/tasks/${taskId}`, text, 'failure');
  }

  function optionFields(service: string) {
    const plugin = servicePlugin(service);
    if (!plugin?.exportOptions) return [];
    return formFieldsOf(plugin.exportOptions, []).map((f) => ({ ...f, inputName: exportOptionKey(f.name) }));
  }

  async function page(c: Context<AppEnv>, ids: readonly string[], values: Record<string, string>, errors = {}) {
    const { task, entities, leftOut } = await chosen(c, ids);
    if (entities.length === 0) return nothingToExport(c, task.id, leftOut);
    const fields = optionFields(task.service);
    const defaults: Record<string, string> = {};
    for (const f of fields) {
      if (f.defaultValue !== null)
        defaults[f.inputName] = f.input === 'checkbox' ? (f.defaultValue === 'true' ? 'on' : '') : f.defaultValue;
    }
    const locations = await availableLocations(c.get('em'), organizationOf(c));
    return renderPage(
      c,
      deps,
      'pages/recovery/export-many.njk',
      {
        title: `Download · ${task.name}`,
        task: { id: task.id, name: task.name, service: servicePlugin(task.service)?.label ?? task.service },
        entities: entities.map((e) => ({ id: e.id, name: e.name, time: e.lastRunAt ?? e.createdAt })),
        leftOut: leftOut.length ? { names: names(leftOut), count: leftOut.length } : null,
        locations: locations.map((l) => ({ id: l.id, name: l.name })),
        minPassphrase: MIN_EXPORT_PASSPHRASE,
        labelMax: JOB_LABEL_MAX,
        optionFields: fields,
        // Secrets typed in are never put back into the page.
        values: { format: 'zip', encryption: 'none', location: '', label: '', ...defaults, ...values, passphrase: '' },
        errors,
      },
      Object.keys(errors).length ? 422 : 200,
    );
  }

  app.get(path, (c) => page(c, c.req.queries('ids') ?? [], {}));

  app.post(path, async (c) => {
    const fields = await formFields(c);
    const { ids = [] } = await formLists(c, ['ids']);
    const { task, entities, leftOut } = await chosen(c, ids);
    if (entities.length === 0) return nothingToExport(c, task.id, leftOut);
    const [first, ...more] = entities as [ITaskEntity, ...ITaskEntity[]];
    const prefix = exportOptionKey('');
    const options: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields))
      if (name.startsWith(prefix)) options[name.slice(prefix.length)] = value;
    const ctx: StartContext = {
      em: c.get('em'),
      principal: principalOf(c),
      organization: organizationOf(c),
      actor: auditActorOf(c, deps),
      credentials: deps.credentials,
      now: deps.now(),
      maxAttempts: deps.config.jobMaxAttempts,
    };
    try {
      await startExport(ctx, {
        taskId: task.id,
        entityId: first.id,
        snapshotId: first.lastSnapshotId as string,
        more: more.map((e) => ({ entityId: e.id, snapshotId: e.lastSnapshotId as string })),
        label: fields.label,
        format: fields.format as ExportFormat,
        encryption: fields.encryption as ExportEncryption,
        passphrase: fields.passphrase,
        publicKey: fields.publicKey,
        locationId: fields.location || null,
        options,
        optionsFrom: 'form',
      });
    } catch (err) {
      if (err instanceof ValidationError) return page(c, ids, fields, err.fields ?? {});
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
