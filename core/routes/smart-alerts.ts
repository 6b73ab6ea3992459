// A backup task's Smart alerts page (seed 6.4): the list of rules with add, edit (the amount, unit,
// change and object; one user vs all users stays as created), on/off and delete. Only for tasks
// whose service offers smart alerts; another organization's task or rule is "not found".
// Reading needs a signed-in user who sees the task; changing needs "Manage backups".
import { type Context, Hono } from 'hono';
import { hasPermission } from '../access/principal.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import type { AlertChange, AlertUnit, AlertUsers } from '../smart-alerts/entities.ts';
import { describeRule } from '../smart-alerts/evaluate.ts';
import {
  createRule,
  deleteRule,
  findRule,
  isWide,
  listRules,
  offersSmartAlerts,
  updateRule,
} from '../smart-alerts/rules.ts';
import { TaskEntity } from '../tasks/entities.ts';
import { getTask } from '../tasks/tasks-service.ts';
import { formFields } from './forms.ts';

interface RuleForm {
  id?: number;
  values: { scope: string; object: string; change: string; unit: string; threshold: string; users: string };
  errors: Record<string, string>;
  /** The amount is so low the rule will fire after almost every run: asked to confirm. */
  wide?: boolean;
}

const BLANK: RuleForm['values'] = {
  scope: 'all',
  object: '',
  change: 'deleted',
  unit: 'percent',
  threshold: '10',
  users: 'all',
};

export function smartAlertRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const canManage = requirePermission('manage_backups');
  app.use('/tasks/:id/smart-alerts', requireUser(deps));
  app.use('/tasks/:id/smart-alerts/*', requireUser(deps));

  const taskOf = async (c: Context<AppEnv>) => {
    const task = await getTask(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
    if (!offersSmartAlerts(task)) throw new NotFoundError('This backup task offers no smart alerts.');
    return task;
  };
  const base = (taskId: string) => `/tasks/${taskId}/smart-alerts`;

  const page = async (c: Context<AppEnv>, form?: RuleForm, status: 200 | 422 = 200) => {
    const em = c.get('em');
    const task = await taskOf(c);
    const entities = await em.find(
      TaskEntity,
      { task, deletedAt: null, kind: { $ne: 'metadata' } },
      { orderBy: { name: 'asc' } },
    );
    const names = new Map(entities.map((e) => [e.externalId, e.name]));
    const rules = await listRules(em, task);
    return renderPage(
      c,
      deps,
      'pages/tasks/smart-alerts.njk',
      {
        title: `Smart alerts · ${task.name}`,
        task: { id: task.id, name: task.name },
        canManage: hasPermission(principalOf(c), 'manage_backups'),
        objects: entities.map((e) => ({ id: e.externalId, name: e.name })),
        hasBaseline: entities.some((e) => e.lastSnapshotId),
        rules: rules.map((r) => ({
          id: r.id,
          object: r.entityExternalId == null ? 'All objects' : (names.get(r.entityExternalId) ?? r.entityExternalId),
          description: describeRule(r, names.get(r.entityExternalId ?? '')),
          users: r.users === 'one' ? 'One user' : 'All users',
          enabled: r.enabled,
          wide: isWide(r),
        })),
        form,
        focus: form ? (Object.keys(form.errors)[0] ?? 'threshold') : undefined,
      },
      status,
    );
  };

  const valuesOf = async (c: Context<AppEnv>): Promise<RuleForm['values'] & { confirmWide: boolean }> => {
    const f = await formFields(c);
    return {
      scope: f.scope === 'object' ? 'object' : 'all',
      object: f.object ?? '',
      change: f.change ?? '',
      unit: f.unit ?? '',
      threshold: (f.threshold ?? '').trim(),
      users: f.users ?? '',
      confirmWide: f.confirmWide === 'yes',
    };
  };
  /** The form as rule input; a specific object must be chosen when "Specific object" is. */
  const inputOf = (v: RuleForm['values']) => {
    if (v.scope === 'object' && !v.object)
      throw new ValidationError({ object: 'Choose the object that triggers the alert.' });
    return {
      object: v.scope === 'object' ? v.object : '',
      change: v.change as AlertChange,
      unit: v.unit as AlertUnit,
      threshold: v.threshold === '' ? Number.NaN : (v.threshold as unknown as number),
      users: v.users as AlertUsers,
    };
  };
  const wideUnconfirmed = (v: RuleForm['values'] & { confirmWide: boolean }) => {
    const n = Number(v.threshold);
    return (
      !v.confirmWide &&
      (v.unit === 'count' || v.unit === 'percent') &&
      Number.isInteger(n) &&
      n >= 0 &&
      isWide({ unit: v.unit, threshold: n })
    );
  };

  app.get('/tasks/:id/smart-alerts', (c) => page(c));
  app.get('/tasks/:id/smart-alerts/new', canManage, (c) => page(c, { values: { ...BLANK }, errors: {} }));
  app.get('/tasks/:id/smart-alerts/:alertId/edit', canManage, async (c) => {
    const r = await findRule(c.get('em'), await taskOf(c), c.req.param('alertId'));
    return page(c, {
      id: r.id,
      values: {
        scope: r.entityExternalId == null ? 'all' : 'object',
        object: r.entityExternalId ?? '',
        change: r.change,
        unit: r.unit,
        threshold: String(r.threshold),
        users: r.users,
      },
      errors: {},
    });
  });

  app.post('/tasks/:id/smart-alerts', canManage, async (c) => {
    const task = await taskOf(c);
    const v = await valuesOf(c);
    try {
      const input = inputOf(v);
      if (wideUnconfirmed(v)) return page(c, { values: v, errors: {}, wide: true });
      await createRule(c.get('em'), task, input, deps.now());
      return redirectWithFlash(c, deps, base(task.id), 'Smart alert added.');
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { values: v, errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  app.post('/tasks/:id/smart-alerts/:alertId', canManage, async (c) => {
    const task = await taskOf(c);
    const r = await findRule(c.get('em'), task, c.req.param('alertId'));
    const v = { ...(await valuesOf(c)), users: r.users };
    try {
      const input = inputOf(v);
      if (wideUnconfirmed(v)) return page(c, { id: r.id, values: v, errors: {}, wide: true });
      await updateRule(c.get('em'), task, r.id, input);
      return redirectWithFlash(c, deps, base(task.id), 'Smart alert saved.');
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { id: r.id, values: v, errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  app.post('/tasks/:id/smart-alerts/:alertId/toggle', canManage, async (c) => {
    const task = await taskOf(c);
    const r = await findRule(c.get('em'), task, c.req.param('alertId'));
    await updateRule(c.get('em'), task, r.id, { enabled: !r.enabled });
    return redirectWithFlash(c, deps, base(task.id), r.enabled ? 'Smart alert turned off.' : 'Smart alert turned on.');
  });

  app.post('/tasks/:id/smart-alerts/:alertId/delete', canManage, async (c) => {
    const task = await taskOf(c);
    await deleteRule(c.get('em'), task, c.req.param('alertId'));
    return redirectWithFlash(c, deps, base(task.id), 'Smart alert deleted.');
  });

  return app;
}
