// The task page's Replicate form (plugins declaring `replicate`; Salesforce's seed 6.3): a backup
// time of the plugin's anchor entity, a target task of the same service in the organization
// (checked by the plugin's `targetProblem` before anything starts) and the plugin's own fields
// through the form generator. Starts the kernel's restore job on the anchor's snapshot (every
// item) to the same entity of the target task, with the form's output as the restore options.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { CatalogSnapshot } from '../catalog/entities.ts';
import { fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { servicePlugin } from '../plugins/registry.ts';
import type { ReplicateSpec } from '../plugins/service.ts';
import { formFieldsOf, valuesFromInput } from '../plugins/settings-form.ts';
import { startRestore } from '../recovery/start.ts';
import { openConnectionSettings } from '../tasks/connection.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import { getTask } from '../tasks/tasks-service.ts';
import { formFields } from './forms.ts';

/** Backup times offered (newest first). */
const TIMES_SHOWN = 50;

export function replicateRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/tasks/:id/replicate', requireUser(deps), requirePermission('restore'));
  app.use('/tasks/:id/replicate/*', requireUser(deps), requirePermission('restore'));

  /** The task with its plugin's Replicate spec; a task whose plugin has none has no such page. */
  async function target(c: Context<AppEnv>): Promise<{ task: IBackupTask; spec: ReplicateSpec }> {
    const task = await getTask(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
    const spec = servicePlugin(task.service)?.replicate;
    if (!spec) throw new NotFoundError('This backup task has no Replicate.');
    return { task, spec };
  }

  async function page(c: Context<AppEnv>, values: Record<string, string>, errors: Record<string, string>) {
    const em = c.get('em');
    const { task, spec } = await target(c);
    const snapshots = await em.find(
      CatalogSnapshot,
      { task: task.id, entity: spec.anchorEntity },
      { orderBy: { time: 'desc' }, limit: TIMES_SHOWN },
    );
    const tasks = await em.find(
      BackupTask,
      { organization: organizationOf(c), deletedAt: null, service: task.service, id: { $ne: task.id } },
      { orderBy: { name: 'asc' } },
    );
    const fields = formFieldsOf(spec.form, []).map((f) => ({ ...f, inputName: f.name }));
    const defaults = Object.fromEntries(fields.map((f) => [f.name, f.defaultValue ?? '']));
    return renderPage(
      c,
      deps,
      'pages/tasks/replicate.njk',
      {
        title: `Replicate · ${task.name}`,
        task: { id: task.id, name: task.name },
        description: spec.description,
        download: spec.download ? { label: spec.download.label } : null,
        snapshots: snapshots.map((s) => ({ id: s.id, time: s.time.toISOString().slice(0, 19).replace('T', ' ') })),
        tasks: tasks.map((t) => ({ id: t.id, name: t.name })),
        fields,
        values: { snapshot: snapshots[0]?.id ?? '', targetTask: '', ...defaults, ...values },
        errors,
      },
      Object.keys(errors).length ? 422 : 200,
    );
  }

  app.get('/tasks/:id/replicate', (c) => page(c, {}, {}));

  app.post('/tasks/:id/replicate', async (c) => {
    const em = c.get('em');
    const { task, spec } = await target(c);
    const values = await formFields(c);
    const errors: Record<string, string> = {};
    const fields = formFieldsOf(spec.form, []);
    const parsed = spec.form.safeParse(valuesFromInput(fields, values, { from: 'form', blankRequired: 'unset' }));
    if (!parsed.success) Object.assign(errors, fieldErrorsFrom(parsed.error.issues));
    const other = values.targetTask
      ? await em.findOne(BackupTask, {
          id: values.targetTask,
          organization: organizationOf(c),
          deletedAt: null,
          service: task.service,
        })
      : null;
    if (!other || other.id === task.id) errors.targetTask = 'Choose the task to replicate into.';
    else {
      const settings = openConnectionSettings(deps.credentials, other);
      const account = servicePlugin(task.service)?.accountOf;
      // Replicating into the backup's own account would overwrite the source with the copy.
      const same = account && account(settings).id === account(openConnectionSettings(deps.credentials, task)).id;
      const problem = same
        ? `${other.name} is connected to the same account as this task: choose a task of another one (a Sandbox).`
        : spec.targetProblem?.(settings);
      if (problem) errors.targetTask = problem;
    }
    const anchor = await em.findOne(TaskEntity, { task, externalId: spec.anchorEntity, deletedAt: null });
    const destination = other
      ? await em.findOne(TaskEntity, { task: other, externalId: spec.anchorEntity, deletedAt: null })
      : null;
    if (!anchor) errors.snapshot = 'This task has no backup to replicate yet.';
    if (other && !destination && !errors.targetTask) {
      errors.targetTask = `${other.name} has no ${spec.anchorEntity} yet: let its first discovery finish.`;
    }
    if (Object.keys(errors).length || !parsed.success || !anchor || !destination) return page(c, values, errors);
    try {
      await startRestore(
        {
          em,
          principal: principalOf(c),
          organization: organizationOf(c),
          actor: auditActorOf(c, deps),
          credentials: deps.credentials,
          now: deps.now(),
          maxAttempts: deps.config.jobMaxAttempts,
        },
        {
          taskId: task.id,
          entityId: anchor.id,
          snapshotId: values.snapshot ?? '',
          destinationEntityId: destination.id,
          mode: 'in_place',
          label: `Replicate to ${other?.name}`,
          options: parsed.data,
        },
      );
    } catch (err) {
      if (err instanceof NotFoundError) return page(c, values, { snapshot: 'Choose a backup time from the list.' });
      if (err instanceof ValidationError) return page(c, values, err.fields ?? {});
      throw err;
    }
    return redirectWithFlash(c, deps, '/jobs', 'The replicate has started. Its progress shows below.');
  });

  app.get('/tasks/:id/replicate/template.csv', async (c) => {
    const { spec } = await target(c);
    const download = spec.download;
    if (!download) throw new NotFoundError('This Replicate offers no download.');
    return csvResponse(c, {
      fileName: download.fileName,
      header: download.header,
      rows: (async function* () {
        yield* download.rows();
      })(),
      bom: true,
    });
  });

  return app;
}
