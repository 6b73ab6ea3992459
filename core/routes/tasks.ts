// Backup task pages: add a task (choose an installed service, then its connection form generated
// from the plugin's settings schema plus the task settings), the task page (entities with search,
// status filter, paging and actions on one or many; summary tiles per kind of entity; the chart
// of items backed up per day with its drill-down; live rows while backups run), the settings
// page, re-authentication, pause/resume, delete with its grace period and restore.
// Viewing needs a signed-in user of the organization worked in; changes need "manage backups".
// Every task id is looked up inside the organization worked in: another tenant's is a 404.
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { hasPermission } from '../access/principal.ts';
import { parseDay } from '../date-range.ts';
import { startDrill } from '../drills/drill-schedule.ts';
import { drillView, latestDrills } from '../drills/drill-status.ts';
import { AppError, type FieldErrors, NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { isHttps, requestOrigin } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { jobInitiatorOf } from '../http/initiator.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { missingAppSettings, servicePlugin, servicePlugins } from '../plugins/registry.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import { type FormField, formFieldsOf, valuesFromForm } from '../plugins/settings-form.ts';
import { weekdayOf } from '../scheduler/schedule.ts';
import { openConnectionSettings } from '../tasks/connection.ts';
import {
  ENTITY_STATUSES,
  type EntityStatus,
  type IBackupTask,
  type ITaskEntity,
  TaskEntity,
} from '../tasks/entities.ts';
import {
  activateEntities,
  backupNow,
  deleteEntities,
  pauseEntities,
  restoreEntities,
} from '../tasks/entity-actions.ts';
import {
  beginOAuth,
  finishOAuth,
  OAUTH_COOKIE,
  OAUTH_PENDING_MS,
  parseOAuthChoices,
  storedOAuthChoices,
} from '../tasks/oauth-connect.ts';
import {
  backupChart,
  CHART_RANGES,
  deletedEntitiesOf,
  discoveryInProgress,
  ENTITY_STATUS_LABELS,
  entityCountsByTask,
  entityPage,
  kindSummaries,
  lastBackupOf,
  nextRunOf,
  queuedEntityIds,
  requestDiscovery,
  runsOnDay,
  scheduleText,
  storageLocationOf,
} from '../tasks/task-overview.ts';
import {
  checkNewTaskInput,
  createTask,
  defaultSettingsFor,
  deleteTask,
  getTask,
  reconnectTask,
  restoreTask,
  setTaskStatus,
  TASK_GRACE_DAYS,
  type TaskServiceDeps,
  updateTaskSettings,
} from '../tasks/tasks-service.ts';
import { formFields, formLists } from './forms.ts';
import { chartModel, longDay, tableDay } from './task-chart.ts';
import {
  FREQUENCY_CHOICES,
  formValuesOf,
  HOUR_CHOICES,
  retentionLabel,
  settingsFromForm,
  taskSettingsOf,
} from './task-forms.ts';

const ENTITY_PAGE_SIZE = 50;

/** One-time banners after a redirect (core/http/flash.ts). */
const NOTICES: Record<string, string> = {
  created: 'The backup task has been added. Discovering what the account holds…',
  saved: 'The settings have been saved.',
  unchanged: 'Nothing was changed.',
  reconnected: 'The connection has been authenticated again.',
  paused: 'The backup task is paused: no scheduled backups run until you resume it.',
  resumed: 'The backup task is active again.',
  restored: 'The backup task has been restored.',
  discover: 'Discovery has been queued.',
  drill: 'A restore drill has been queued: the result shows here when it is done.',
  none: 'Select at least one entry in the table first.',
};

const ACTION_NOTICES: Record<string, (n: number) => string> = {
  activate: (n) => `${n} activated: they are backed up at the next scheduled run.`,
  pause: (n) => `${n} paused.`,
  backup_now: (n) => `${n} queued for backup now.`,
  delete: (n) => `${n} deleted. They can be restored for ${TASK_GRACE_DAYS} days, then their backups are purged.`,
  restore: (n) => `${n} restored.`,
};

const ACTIONS = ['activate', 'pause', 'backup_now', 'delete', 'restore'] as const;
type EntityAction = (typeof ACTIONS)[number];

const STATUS_BADGES: Partial<Record<EntityStatus, string>> = {
  success: 'badge-success',
  partial: 'badge-warning',
  failed: 'badge-danger',
  in_process: 'badge-info',
  scheduled: 'badge-scheduled',
};

export function statusView(status: EntityStatus) {
  return { status, statusLabel: ENTITY_STATUS_LABELS[status], badge: STATUS_BADGES[status] ?? '' };
}

const JOB_STATE_VIEW: Record<string, { label: string; badge: string }> = {
  succeeded: { label: 'Success', badge: 'badge-success' },
  partially_succeeded: { label: 'Partial', badge: 'badge-warning' },
  failed: { label: 'Failed', badge: 'badge-danger' },
};

function serviceDeps(deps: AppDeps): TaskServiceDeps {
  return { credentials: deps.credentials, services: servicePlugin, now: deps.now, log: deps.log };
}

/** A task's connection fields and its plugin (undefined when the plugin is no longer installed). */
/**
 * The connect form's fields; for services connected through their own sign-in (OAuth), only the
 * choices asked before it (an environment), if the plugin has any.
 */
function connectionFields(plugin: ServicePlugin): FormField[] {
  if (plugin.oauth) return plugin.oauth.choices ? formFieldsOf(plugin.oauth.choices, []) : [];
  return formFieldsOf(plugin.settings, plugin.secretSettings);
}

const OAUTH_CALLBACK = '/tasks/oauth/callback';

export function entityRowView(e: ITaskEntity, kindLabels: ReadonlyMap<string, string>, queued: ReadonlySet<string>) {
  const waiting = queued.has(e.id) && e.status !== 'in_process';
  return {
    ...statusView(e.status),
    id: e.id,
    name: e.name,
    kind: kindLabels.get(e.kind) ?? e.kind,
    lastRunAt: e.lastRunAt ?? null,
    added: e.lastAdded,
    updated: e.lastUpdated,
    deleted: e.lastDeleted,
    items: e.lastItems,
    bytes: e.lastBytes,
    snapshot: e.lastSnapshotId ? e.lastSnapshotId.slice(0, 8) : null,
    snapshotId: e.lastSnapshotId ?? null,
    error: e.status === 'failed' || e.status === 'partial' ? (e.lastError ?? null) : null,
    // Not a failure: shown muted, in the service's words.
    unavailableReason: e.status === 'unavailable' ? (e.unavailableReason ?? null) : null,
    queued: waiting,
    // Refreshed by htmx until the run is over.
    live: e.status === 'in_process' || waiting,
  };
}

export function taskRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const canManage = requirePermission('manage_backups');
  app.use('/tasks', requireUser(deps));
  app.use('/tasks/*', requireUser(deps));

  const taskOf = (c: Context<AppEnv>) => getTask(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
  const pluginOf = (task: IBackupTask) => servicePlugin(task.service);
  const serviceLabel = (task: IBackupTask) => pluginOf(task)?.label ?? task.service;
  const taskHeader = (task: IBackupTask) => ({
    id: task.id,
    name: task.name,
    service: serviceLabel(task),
    installed: Boolean(pluginOf(task)),
    connected: task.connectionState === 'connected',
    connectionProblem: task.connectionProblem ?? null,
    paused: task.status === 'paused',
  });

  // ---- Add a backup task ----------------------------------------------------------------

  const newTaskPage = (
    c: Context<AppEnv>,
    plugin: ServicePlugin | undefined,
    values: Record<string, string>,
    errors: FieldErrors,
    status: 200 | 422 = 200,
  ) => {
    const services = servicePlugins().map((p) => ({ kind: p.kind, label: p.label }));
    const fields = plugin ? connectionFields(plugin) : [];
    const missing = plugin ? missingAppSettings(plugin) : [];
    return renderPage(
      c,
      deps,
      'pages/tasks/new.njk',
      {
        title: plugin ? `Add a ${plugin.label} backup task` : 'Add a backup task',
        services,
        service: plugin
          ? { kind: plugin.kind, label: plugin.label, apiUsageLimit: plugin.apiUsageLimit, oauth: !!plugin.oauth }
          : null,
        fields: fields.map((f) => ({ ...f, inputName: `conn_${f.name}` })),
        // The connector is not set up on this appliance: what the operator sets, said up front.
        notConfigured: missing.length
          ? {
              settings: missing.map((m) => ({ env: m.env, configKey: m.configKey, description: m.description })),
              redirectUri: plugin?.oauth ? `${requestOrigin(c, deps.config)}${OAUTH_CALLBACK}` : null,
            }
          : null,
        values,
        errors,
        // A refused connection has its own message; the count is of fields to correct.
        errorCount: Object.keys(errors).filter((k) => k !== 'connection').length,
        frequencies: FREQUENCY_CHOICES,
        hours: HOUR_CHOICES,
        // A task added now runs weekly on today's weekday (UTC).
        weeklyOn: weekdayOf(deps.now()),
        graceDays: TASK_GRACE_DAYS,
      },
      status,
    );
  };

  app.get('/tasks/new', canManage, (c) => {
    const kind = c.req.query('service');
    const plugins = servicePlugins();
    const plugin = kind ? servicePlugin(kind) : plugins.length === 1 ? plugins[0] : undefined;
    if (kind && !plugin) throw new NotFoundError('No such service is installed on this appliance.');
    const values = plugin ? formValuesOf({ ...defaultSettingsFor(plugin), name: '' }) : {};
    if (plugin) for (const f of connectionFields(plugin)) values[`conn_${f.name}`] = f.defaultValue ?? '';
    return newTaskPage(c, plugin, values, {});
  });

  app.post('/tasks/new', canManage, async (c) => {
    const form = await formFields(c);
    const plugin = servicePlugin(form.service ?? '');
    if (!plugin) throw new AppError('unknown_service', 'Choose a service that is installed on this appliance.', 422);
    const missing = missingAppSettings(plugin);
    if (missing.length) {
      const names = missing.map((m) => m.env).join(' and ');
      const message = `${plugin.label} is not configured on this appliance yet: the operator sets ${names}.`;
      return newTaskPage(c, plugin, {}, { connection: message }, 422);
    }
    const fields = connectionFields(plugin);
    const connectionInput: Record<string, string> = {};
    for (const f of fields) connectionInput[f.name] = form[`conn_${f.name}`] ?? '';
    const connection = valuesFromForm(fields, connectionInput);
    const settings = settingsFromForm(form);
    if (!plugin.apiUsageLimit) delete settings.apiUsageLimitPercent;
    // Secrets are never sent back into the page.
    const echo = Object.fromEntries(
      Object.entries(form).filter(([k]) => !fields.some((f) => f.secret && `conn_${f.name}` === k)),
    );
    const problems = checkNewTaskInput(plugin, { name: form.name ?? '', connection, settings });
    const errors: FieldErrors = {
      ...problems.settings,
      ...Object.fromEntries(Object.entries(problems.connection).map(([k, v]) => [`conn_${k}`, v])),
    };
    if (plugin.oauth) {
      // The connection comes back from the service's sign-in; the task settings and the choices
      // asked before it (an environment) are checked now.
      const chosen = parseOAuthChoices(plugin.oauth, connection);
      const early: FieldErrors = { ...problems.settings };
      if ('errors' in chosen) for (const [k, v] of Object.entries(chosen.errors)) early[`conn_${k}`] = v;
      if (Object.keys(early).length || !('choices' in chosen)) return newTaskPage(c, plugin, echo, early, 422);
      return startOAuth(
        c,
        plugin,
        { purpose: 'create', name: form.name ?? '', settings, choices: chosen.choices },
        (message) => newTaskPage(c, plugin, echo, { connection: message }, 422),
      );
    }
    if (Object.keys(errors).length) return newTaskPage(c, plugin, echo, errors, 422);
    const em = c.get('em');
    let task: IBackupTask;
    try {
      task = await createTask(
        em,
        serviceDeps(deps),
        organizationOf(c),
        { service: plugin.kind, name: form.name ?? '', connection, settings },
        auditActorOf(c, deps),
      );
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const fieldsWithErrors = err.fields ?? {};
      const mapped: FieldErrors = {};
      for (const [k, v] of Object.entries(fieldsWithErrors)) {
        mapped[k === 'connection' ? 'connection' : fields.some((f) => f.name === k) ? `conn_${k}` : k] = v;
      }
      return newTaskPage(c, plugin, echo, mapped, 422);
    }
    // Discovery runs right away as a job; the task page shows it and fills in when it is done.
    await requestDiscovery(em, task, jobInitiatorOf(c, deps), deps.now(), deps.config.jobMaxAttempts);
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.created as string);
  });

  // ---- Connecting through the service's own sign-in (OAuth 2 with PKCE) -------------------

  /** Sends the browser to the service's sign-in, with what to do on return sealed in a cookie. */
  const startOAuth = (
    c: Context<AppEnv>,
    plugin: ServicePlugin,
    pending: {
      purpose: 'create' | 'reconnect';
      taskId?: string;
      name?: string;
      settings?: Record<string, unknown>;
      choices: Record<string, unknown>;
    },
    refused: (message: string) => Response,
  ): Response => {
    const oauth = plugin.oauth as NonNullable<ServicePlugin['oauth']>;
    let started: { url: string; cookie: string };
    try {
      started = beginOAuth(
        oauth,
        deps.credentials,
        `${requestOrigin(c, deps.config)}${OAUTH_CALLBACK}`,
        {
          ...pending,
          service: plugin.kind,
          organizationId: organizationOf(c).id,
          userId: principalOf(c).user?.id ?? '',
        },
        deps.now(),
      );
    } catch (err) {
      // The connector is not set up (no app registered at the service): say so on the form.
      return refused((err as Error).message);
    }
    setCookie(c, OAUTH_COOKIE, started.cookie, {
      httpOnly: true,
      sameSite: 'Lax',
      secure: isHttps(c, deps.config),
      path: '/tasks/oauth',
      maxAge: OAUTH_PENDING_MS / 1000,
    });
    // A form's answer may not redirect to another site (CSP form-action 'self'): a page moves on.
    c.header('Referrer-Policy', 'no-referrer');
    return renderPage(c, deps, 'pages/tasks/oauth-continue.njk', {
      title: `Continue to ${plugin.label}`,
      service: plugin.label,
      url: started.url,
    });
  };

  app.get(OAUTH_CALLBACK, canManage, async (c) => {
    const cookie = getCookie(c, OAUTH_COOKIE);
    deleteCookie(c, OAUTH_COOKIE, { path: '/tasks/oauth' });
    const pending = finishOAuth(
      deps.credentials,
      cookie,
      c.req.query('state'),
      { organizationId: organizationOf(c).id, userId: principalOf(c).user?.id ?? '' },
      deps.now(),
    );
    const plugin = servicePlugin(pending.service);
    if (!plugin?.oauth) throw new NotFoundError('No such service is installed on this appliance.');
    const em = c.get('em');
    const reconnecting =
      pending.purpose === 'reconnect' ? await getTask(em, organizationOf(c), pending.taskId ?? '') : null;
    const values = formValuesOf({ ...defaultSettingsFor(plugin), ...pending.settings, name: pending.name ?? '' });
    for (const [k, v] of Object.entries(pending.choices ?? {})) values[`conn_${k}`] = String(v);
    const refused = (message: string) =>
      reconnecting
        ? reconnectPage(c, reconnecting, plugin, {}, { connection: message }, 422)
        : newTaskPage(c, plugin, values, { connection: message }, 422);
    const code = c.req.query('code');
    if (!code) {
      // The admin declined, or the service refused: its own words (error_description) when it gave them.
      const said = (c.req.query('error_description') ?? c.req.query('error') ?? '').slice(0, 300);
      return refused(`${plugin.label} did not grant access${said ? `: ${said}` : '.'}`);
    }
    let connection: unknown;
    try {
      connection = await plugin.oauth.exchangeCode(
        {
          code,
          redirectUri: `${requestOrigin(c, deps.config)}${OAUTH_CALLBACK}`,
          codeVerifier: pending.verifier,
          choices: pending.choices ?? {},
        },
        { signal: AbortSignal.timeout(60_000), log: c.get('log') },
      );
    } catch (err) {
      return refused((err as Error).message);
    }
    try {
      if (reconnecting) {
        await reconnectTask(em, serviceDeps(deps), reconnecting, connection, auditActorOf(c, deps));
        return redirectWithFlash(c, deps, `/tasks/${reconnecting.id}`, NOTICES.reconnected as string);
      }
      const task = await createTask(
        em,
        serviceDeps(deps),
        organizationOf(c),
        { service: plugin.kind, name: pending.name ?? '', connection, settings: pending.settings ?? {} },
        auditActorOf(c, deps),
      );
      await requestDiscovery(em, task, jobInitiatorOf(c, deps), deps.now(), deps.config.jobMaxAttempts);
      return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.created as string);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return refused(Object.values(err.fields ?? {}).join(' ') || err.message);
    }
  });

  // ---- The task page ----------------------------------------------------------------------

  const entityTable = async (c: Context<AppEnv>, task: IBackupTask) => {
    const em = c.get('em');
    const q = (c.req.query('q') ?? '').trim().slice(0, 200);
    const statusParam = c.req.query('status') ?? '';
    const status = (ENTITY_STATUSES as readonly string[]).includes(statusParam)
      ? (statusParam as EntityStatus)
      : undefined;
    const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1);
    const { entities, total } = await entityPage(em, task, {
      search: q || undefined,
      status,
      page,
      pageSize: ENTITY_PAGE_SIZE,
    });
    const plugin = pluginOf(task);
    const kindLabels = new Map(plugin?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
    const queued = await queuedEntityIds(em, task);
    const counts = (await entityCountsByTask(em, [task.id])).get(task.id);
    const present = new Set(ENTITY_STATUSES.filter((s) => (counts?.[s] ?? 0) > 0) as string[]);
    const pageCount = Math.max(1, Math.ceil(total / ENTITY_PAGE_SIZE));
    const link = (p: number) => {
      const params = new URLSearchParams();
      if (q) params.set('q', q);
      if (status) params.set('status', status);
      if (p > 1) params.set('page', String(p));
      const text = params.toString();
      return `/tasks/${task.id}${text ? `?${text}` : ''}`;
    };
    return {
      rows: entities.map((e) => entityRowView(e, kindLabels, queued)),
      total,
      q,
      status: status ?? '',
      // Only statuses some entry has (and the one chosen), so no choice leads to an empty table.
      statuses: ENTITY_STATUSES.filter((value) => present.has(value) || value === status).map((value) => ({
        value,
        label: ENTITY_STATUS_LABELS[value],
      })),
      filtersActive: !!(q || status),
      page,
      pageCount,
      previousUrl: page > 1 ? link(page - 1) : null,
      nextUrl: page < pageCount ? link(page + 1) : null,
      kindColumn: (plugin?.entityKinds.length ?? 0) !== 1,
      // The service's own nouns ("team members and team folders"); core names no service.
      entityWord: plugin?.entityKinds.length
        ? plugin.entityKinds.map((k) => k.label.toLowerCase()).join(' and ')
        : 'accounts',
    };
  };

  // The chart of the days asked for (?days=, ?day= selects one day's runs).
  const chartOf = async (c: Context<AppEnv>, task: IBackupTask, plugin: ServicePlugin | undefined) => {
    const daysParam = Number(c.req.query('days'));
    const days = (CHART_RANGES as readonly number[]).includes(daysParam) ? daysParam : 14;
    const chartDays = await backupChart(c.get('em'), task, plugin, days, deps.now());
    const selectedDay = parseDay(c.req.query('day') ?? '') ?? undefined;
    const selected = selectedDay && chartDays.some((d) => d.day === c.req.query('day')) ? selectedDay : undefined;
    const chart = chartModel(chartDays, {
      selected: selected?.toISOString().slice(0, 10),
      href: (day) => `/tasks/${task.id}?days=${days}&day=${day}#day-runs`,
    });
    return {
      chart,
      // The table names each day ("Mon 7 Dec"); its links keep the ISO day.
      chartDays: chartDays.map((d) => ({ ...d, label: tableDay(d.day) })),
      days,
      selected,
      selectedDayLabel: selected ? longDay(selected.toISOString().slice(0, 10)) : null,
    };
  };

  // What follows a run on the task page (header facts, Summary tiles) and whether a run is on.
  const liveParts = async (c: Context<AppEnv>, task: IBackupTask, plugin: ServicePlugin | undefined) => {
    const em = c.get('em');
    return {
      lastBackup: await lastBackupOf(em, task),
      nextRun: nextRunOf(task, deps.now()),
      schedule: scheduleText(task),
      tiles: await kindSummaries(em, task, plugin),
      live: (await queuedEntityIds(em, task)).size > 0,
    };
  };

  // Polled while a backup is queued or running: the parts above and the chart, swapped out of band.
  app.get('/tasks/:id/live', async (c) => {
    const task = await taskOf(c);
    const plugin = pluginOf(task);
    const { chart, chartDays, days, selected, selectedDayLabel } = await chartOf(c, task, plugin);
    return renderFragment(c, deps.views, 'partials/tasks/live-update.njk', {
      selectedDayLabel,
      task: taskHeader(task),
      ...(await liveParts(c, task, plugin)),
      chart,
      chartDays,
      days,
      selectedDay: selected?.toISOString().slice(0, 10) ?? null,
      oob: true,
    });
  });

  app.get('/tasks/:id', async (c) => {
    const em = c.get('em');
    const task = await taskOf(c);
    const plugin = pluginOf(task);
    const canManageBackups = hasPermission(principalOf(c), 'manage_backups');
    const table = await entityTable(c, task);
    const context = { task: taskHeader(task), canManage: canManageBackups, ...table };
    if (wantsFragment(c) && c.req.header('hx-target') === 'task-entities') {
      return renderFragment(c, deps.views, 'partials/tasks/entities-results.njk', context);
    }
    const now = deps.now();
    const { chart, chartDays, days, selected, selectedDayLabel } = await chartOf(c, task, plugin);
    const runs = selected
      ? (await runsOnDay(em, task, selected)).map((r) => ({
          ...r,
          stateLabel: JOB_STATE_VIEW[r.state]?.label ?? r.state,
          badge: JOB_STATE_VIEW[r.state]?.badge ?? '',
        }))
      : null;
    return renderPage(c, deps, 'pages/tasks/task.njk', {
      ...context,
      title: task.name,
      discovering: await discoveryInProgress(em, task),
      discovered: Boolean(task.discoveredAt),
      ...(await liveParts(c, task, plugin)),
      chart,
      chartDays,
      days,
      ranges: CHART_RANGES,
      selectedDay: selected?.toISOString().slice(0, 10) ?? null,
      selectedDayLabel,
      runs,
      graceDays: TASK_GRACE_DAYS,
      canExport: hasPermission(principalOf(c), 'export_download'),
      canReplicate: !!plugin?.replicate && hasPermission(principalOf(c), 'restore'),
      smartAlerts: !!plugin?.smartAlerts,
      drill: drillView((await latestDrills(em, [task.id])).get(task.id)),
      drillIntervalDays: deps.config.drillIntervalDays,
      deletedEntities: (await deletedEntitiesOf(em, task, now)).map((e) => ({
        id: e.id,
        name: e.name,
        purgeAfter: e.purgeAfter,
      })),
    });
  });

  // One entity's row, polled while its backup is queued or running.
  app.get('/tasks/:id/entities/:entityId/row', async (c) => {
    const em = c.get('em');
    const task = await taskOf(c);
    const entity = await em.findOne(TaskEntity, { id: c.req.param('entityId'), task, deletedAt: null });
    if (!entity) throw new NotFoundError('No such entity in this backup task.');
    const plugin = pluginOf(task);
    const kindLabels = new Map(plugin?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
    const row = entityRowView(entity, kindLabels, await queuedEntityIds(em, task));
    return renderFragment(c, deps.views, 'partials/tasks/entity-row.njk', {
      task: taskHeader(task),
      e: row,
      canManage: hasPermission(principalOf(c), 'manage_backups'),
      kindColumn: (plugin?.entityKinds.length ?? 0) !== 1,
    });
  });

  // The "discovering" notice, polled; once discovery is over the page reloads with the entities.
  app.get('/tasks/:id/discovery', async (c) => {
    const task = await taskOf(c);
    const running = await discoveryInProgress(c.get('em'), task);
    if (!running && wantsFragment(c)) c.header('HX-Refresh', 'true');
    return renderFragment(c, deps.views, 'partials/tasks/discovery.njk', {
      task: taskHeader(task),
      discovering: running,
    });
  });

  // ---- Actions on entities --------------------------------------------------------------

  app.post('/tasks/:id/actions', canManage, async (c) => {
    const em = c.get('em');
    const task = await taskOf(c);
    const form = await formFields(c);
    const { ids } = await formLists(c, ['ids']);
    const action = form.action as EntityAction;
    if (!ACTIONS.includes(action))
      throw new AppError('bad_request', 'Choose Activate, Pause, Backup Now or Delete.', 400);
    const back = form.back?.startsWith(`/tasks/${task.id}`) ? form.back : `/tasks/${task.id}`;
    const selectedIds = (ids ?? []).slice(0, 1000);
    if (selectedIds.length === 0) {
      return redirectWithFlash(c, deps, back, NOTICES.none as string);
    }
    if (action === 'delete' && form.confirm !== 'yes') {
      const entities = await em.find(
        TaskEntity,
        { task, id: { $in: selectedIds }, deletedAt: null },
        { orderBy: { name: 'asc' }, limit: 1000 },
      );
      if (entities.length === 0) throw new NotFoundError('None of the selected entities is in this backup task.');
      return renderPage(c, deps, 'pages/tasks/delete-entities.njk', {
        title: `Delete from ${task.name}`,
        task: taskHeader(task),
        entities: entities.map((e) => ({ id: e.id, name: e.name })),
        graceDays: TASK_GRACE_DAYS,
        purgeDate: new Date(deps.now().getTime() + TASK_GRACE_DAYS * 86_400_000),
        back,
      });
    }
    const actor = auditActorOf(c, deps);
    const now = deps.now();
    const result =
      action === 'activate'
        ? await activateEntities(em, task, selectedIds, actor)
        : action === 'pause'
          ? await pauseEntities(em, task, selectedIds, actor, now)
          : action === 'delete'
            ? await deleteEntities(em, task, selectedIds, actor, now)
            : action === 'restore'
              ? await restoreEntities(em, task, selectedIds, actor, now)
              : await backupNow(em, task, selectedIds, jobInitiatorOf(c, deps), now, deps.config.jobMaxAttempts);
    const skipped = result.skipped ? ` ${result.skipped} selected could not take this action.` : '';
    return redirectWithFlash(c, deps, back, `${ACTION_NOTICES[action]?.(result.done)}${skipped}`);
  });

  // ---- Settings, connection, pause, delete ----------------------------------------------

  const settingsPage = async (
    c: Context<AppEnv>,
    task: IBackupTask,
    values: Record<string, string>,
    errors: FieldErrors,
    status: 200 | 422 = 200,
  ) => {
    const plugin = pluginOf(task);
    return renderPage(
      c,
      deps,
      'pages/tasks/settings.njk',
      {
        title: `Settings · ${task.name}`,
        task: taskHeader(task),
        service: plugin ? { label: plugin.label, apiUsageLimit: plugin.apiUsageLimit } : null,
        values,
        errors,
        errorCount: Object.keys(errors).length,
        frequencies: FREQUENCY_CHOICES,
        hours: HOUR_CHOICES,
        weeklyOn: weekdayOf(task.createdAt),
        storage: await storageLocationOf(c.get('em'), task),
        retention: retentionLabel(task.retention),
        graceDays: TASK_GRACE_DAYS,
      },
      status,
    );
  };

  app.get('/tasks/:id/settings', canManage, async (c) => {
    const task = await taskOf(c);
    return settingsPage(c, task, formValuesOf(taskSettingsOf(task)), {});
  });

  app.post('/tasks/:id/settings', canManage, async (c) => {
    const task = await taskOf(c);
    const form = await formFields(c);
    const input = settingsFromForm(form);
    if (!pluginOf(task)?.apiUsageLimit) delete input.apiUsageLimitPercent;
    try {
      const changed = await updateTaskSettings(c.get('em'), serviceDeps(deps), task, input, auditActorOf(c, deps));
      return redirectWithFlash(
        c,
        deps,
        `/tasks/${task.id}/settings`,
        (changed.length ? NOTICES.saved : NOTICES.unchanged) as string,
      );
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return settingsPage(c, task, form, err.fields ?? {}, 422);
    }
  });

  const reconnectPage = (
    c: Context<AppEnv>,
    task: IBackupTask,
    plugin: ServicePlugin,
    values: Record<string, string>,
    errors: FieldErrors,
    status: 200 | 422 = 200,
  ) =>
    renderPage(
      c,
      deps,
      'pages/tasks/reconnect.njk',
      {
        title: `Authenticate again · ${task.name}`,
        task: taskHeader(task),
        oauth: !!plugin.oauth,
        // The choices made before a service's sign-in are fixed: re-authenticating reuses them.
        fields: plugin.oauth ? [] : connectionFields(plugin).map((f) => ({ ...f, inputName: `conn_${f.name}` })),
        values,
        errors,
      },
      status,
    );

  app.get('/tasks/:id/reconnect', canManage, async (c) => {
    const task = await taskOf(c);
    const plugin = pluginOf(task);
    if (!plugin) throw new AppError('unknown_service', `The ${task.service} connector is not installed.`, 409);
    const values: Record<string, string> = {};
    if (!plugin.oauth) for (const f of connectionFields(plugin)) values[`conn_${f.name}`] = f.defaultValue ?? '';
    return reconnectPage(c, task, plugin, values, {});
  });

  app.post('/tasks/:id/reconnect', canManage, async (c) => {
    const task = await taskOf(c);
    const plugin = pluginOf(task);
    if (!plugin) throw new AppError('unknown_service', `The ${task.service} connector is not installed.`, 409);
    const form = await formFields(c);
    if (plugin.oauth) {
      const choices = storedOAuthChoices(plugin.oauth, openConnectionSettings(deps.credentials, task));
      return startOAuth(c, plugin, { purpose: 'reconnect', taskId: task.id, choices }, (message) =>
        reconnectPage(c, task, plugin, {}, { connection: message }, 422),
      );
    }
    const fields = connectionFields(plugin);
    const input: Record<string, string> = {};
    for (const f of fields) input[f.name] = form[`conn_${f.name}`] ?? '';
    const echo = Object.fromEntries(
      Object.entries(form).filter(([k]) => !fields.some((f) => f.secret && `conn_${f.name}` === k)),
    );
    try {
      await reconnectTask(c.get('em'), serviceDeps(deps), task, valuesFromForm(fields, input), auditActorOf(c, deps));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const mapped = Object.fromEntries(
        Object.entries(err.fields ?? {}).map(([k, v]) => [k === 'connection' ? k : `conn_${k}`, v]),
      );
      return reconnectPage(c, task, plugin, echo, mapped, 422);
    }
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.reconnected as string);
  });

  app.post('/tasks/:id/pause', canManage, async (c) => {
    const task = await taskOf(c);
    await setTaskStatus(c.get('em'), task, 'paused', auditActorOf(c, deps));
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.paused as string);
  });

  app.post('/tasks/:id/resume', canManage, async (c) => {
    const task = await taskOf(c);
    await setTaskStatus(c.get('em'), task, 'active', auditActorOf(c, deps));
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.resumed as string);
  });

  app.post('/tasks/:id/discover', canManage, async (c) => {
    const task = await taskOf(c);
    await requestDiscovery(c.get('em'), task, jobInitiatorOf(c, deps), deps.now(), deps.config.jobMaxAttempts);
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.discover as string);
  });

  app.post('/tasks/:id/drill', canManage, async (c) => {
    const task = await taskOf(c);
    await startDrill(c.get('em'), task, jobInitiatorOf(c, deps), deps.now(), deps.config.jobMaxAttempts);
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.drill as string);
  });

  app.get('/tasks/:id/delete', canManage, async (c) => {
    const task = await taskOf(c);
    const counts = await c.get('em').count(TaskEntity, { task, deletedAt: null });
    return renderPage(c, deps, 'pages/tasks/delete.njk', {
      title: `Delete ${task.name}`,
      task: taskHeader(task),
      entities: counts,
      graceDays: TASK_GRACE_DAYS,
      purgeDate: new Date(deps.now().getTime() + TASK_GRACE_DAYS * 86_400_000),
    });
  });

  app.post('/tasks/:id/delete', canManage, async (c) => {
    const task = await taskOf(c);
    await deleteTask(c.get('em'), serviceDeps(deps), task, auditActorOf(c, deps));
    return redirectWithFlash(
      c,
      deps,
      '/',
      'The backup task has been deleted. You can restore it below during its grace period.',
    );
  });

  app.post('/tasks/:id/restore', canManage, async (c) => {
    const task = await restoreTask(
      c.get('em'),
      serviceDeps(deps),
      organizationOf(c),
      c.req.param('id'),
      auditActorOf(c, deps),
    );
    return redirectWithFlash(c, deps, `/tasks/${task.id}`, NOTICES.restored as string);
  });

  return app;
}
