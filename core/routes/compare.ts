// Compare pages (seed 6.1/6.2): the form on a task (objects, the two points in time, the other
// task, or its live account instead of a backup), the result of a compare job (per object Total / Unique / Changed / Unique / Total, the
// "no changes" and "exists only in" lists, search by object), an object's differences (records
// unique to each side, changed ones field by field, a component's unified diff side by side or
// over-under, downloadable) and the CSV. Reading a result needs what an export needs; another
// organization's job is "not found".
import type { Context } from 'hono';
import { Hono } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission } from '../access/principal.ts';
import { CatalogSnapshot } from '../catalog/entities.ts';
import { COMPARE_CSV_HEADER, compareCsvRows } from '../compare/csv-rows.ts';
import { sideBySide } from '../compare/line-diff.ts';
import { estimateLiveCompare } from '../compare/live-estimate.ts';
import { type CompareSummary, type DifferenceLine, readDifferences, readSummary } from '../compare/result-store.ts';
import { startCompare } from '../compare/start.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, principalOf, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { Job } from '../jobs/entities.ts';
import { resultFileName } from '../recovery/export-job.ts';
import { BackupTask, TaskEntity } from '../tasks/entities.ts';
import { getTask } from '../tasks/tasks-service.ts';

/** Rows an object's page lists per section; the CSV holds them all. */
const SHOWN_PER_SECTION = 500;

function requireCompareAccess(c: Context<AppEnv>): void {
  if (!hasPermission(principalOf(c), 'export_download')) throw new MissingPermissionError('export_download');
}

/**
 * A form's UTC date and time as an instant: "2026-12-01T08:15" means up to the end of that
 * minute, "…T08:15:30" the end of that second (a backup's snapshots are stamped to the
 * millisecond), "…T08:15:30.250" that millisecond. Anything else goes on as typed (and is refused).
 */
export function pointInTime(value: string): string {
  const trimmed = value.trim();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(trimmed)) return `${trimmed}:59.999Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(trimmed)) return `${trimmed}.999Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,3}$/.test(trimmed)) return `${trimmed}Z`;
  return trimmed;
}

export function compareRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/tasks/:id/compare', requireUser(deps));
  app.use('/compare/*', requireUser(deps));

  async function formPage(c: Context<AppEnv>, values: Record<string, unknown>, errors: Record<string, string>) {
    const em = c.get('em');
    const task = await getTask(em, organizationOf(c), c.req.param('id') as string);
    const entities = await em.find(TaskEntity, { task, deletedAt: null }, { orderBy: { name: 'asc' } });
    const tasks = await em.find(
      BackupTask,
      { organization: organizationOf(c), deletedAt: null, service: task.service },
      { orderBy: { name: 'asc' } },
    );
    // Recent backup times of the task (to the second), offered for both sides.
    const snapshots = await em.find(CatalogSnapshot, { task: task.id }, { orderBy: { time: 'desc' }, limit: 2000 });
    const times = [...new Set(snapshots.map((s) => s.time.toISOString().slice(0, 19)))].slice(0, 50);
    const estimate = await estimateLiveCompare(em, task.id);
    return renderPage(
      c,
      deps,
      'pages/compare/form.njk',
      {
        title: `Compare · ${task.name}`,
        task: { id: task.id, name: task.name },
        entities: entities.map((e) => ({ id: e.id, name: e.name, kind: e.kind })),
        tasks: tasks.map((t) => ({ id: t.id, name: t.name })),
        times,
        liveEstimate: { ...estimate, limitPercent: task.apiUsageLimitPercent ?? null },
        values: {
          leftTime: times[1] ?? times[0] ?? '',
          rightTime: times[0] ?? '',
          rightTaskId: task.id,
          rightSource: 'backup',
          entityIds: [],
          ...values,
        },
        errors,
      },
      Object.keys(errors).length ? 422 : 200,
    );
  }

  app.get('/tasks/:id/compare', async (c) => {
    requireCompareAccess(c);
    return formPage(c, {}, {});
  });

  app.post('/tasks/:id/compare', async (c) => {
    requireCompareAccess(c);
    const body = await c.req.parseBody({ all: true });
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    const listed = body.entityIds;
    const entityIds = (Array.isArray(listed) ? listed : listed === undefined ? [] : [listed]).filter(
      (v): v is string => typeof v === 'string',
    );
    const values = {
      leftTime: text(body.leftTime),
      rightSource: text(body.rightSource) === 'live' ? 'live' : 'backup',
      rightTime: text(body.rightTime),
      rightTaskId: text(body.rightTaskId),
      entityIds,
    };
    try {
      await startCompare(
        {
          em: c.get('em'),
          principal: principalOf(c),
          organization: organizationOf(c),
          actor: auditActorOf(c, deps),
          now: deps.now(),
          maxAttempts: deps.config.jobMaxAttempts,
        },
        {
          taskId: c.req.param('id'),
          entityIds,
          leftTime: pointInTime(values.leftTime),
          rightTaskId: values.rightTaskId || undefined,
          rightTime: pointInTime(values.rightTime),
          rightLive: values.rightSource === 'live',
        },
      );
    } catch (err) {
      if (err instanceof ValidationError) return formPage(c, values, err.fields ?? {});
      throw err;
    }
    return c.redirect('/jobs?started=compare', 303);
  });

  /** The compare job of the organization worked in, finished, and its summary. */
  async function resultOf(c: Context<AppEnv>): Promise<{ jobId: string; summary: CompareSummary; label: string }> {
    requireCompareAccess(c);
    const organization = organizationOf(c);
    const jobId = (c.req.param('jobId') ?? '').replace(/\.csv$/, '');
    const job =
      jobId.length <= 36 ? await c.get('em').findOne(Job, { id: jobId, organization, kind: 'compare' }) : null;
    if (job?.state !== 'succeeded') throw new NotFoundError('No such compare result.');
    try {
      return { jobId, summary: await readSummary(deps.config.dataDir, organization.id, jobId), label: job.label };
    } catch {
      throw new NotFoundError('The result of this compare is no longer kept.');
    }
  }

  function objectOf(c: Context<AppEnv>, summary: CompareSummary): number {
    const index = Number(c.req.param('index'));
    if (!Number.isInteger(index) || !summary.objects[index]) throw new NotFoundError('No such object in this compare.');
    return index;
  }

  app.get('/compare/:jobId{[^/]+\\.csv}', async (c) => {
    const { jobId, summary, label } = await resultOf(c);
    const organizationId = organizationOf(c).id;
    return csvResponse(c, {
      fileName: resultFileName(label, deps.now(), 'csv'),
      header: COMPARE_CSV_HEADER,
      rows: compareCsvRows(summary, readDifferences(deps.config.dataDir, organizationId, jobId)),
      bom: true,
    });
  });

  app.get('/compare/:jobId', async (c) => {
    const { jobId, summary } = await resultOf(c);
    const q = (c.req.query('q') ?? '').trim().toLowerCase().slice(0, 200);
    const rows = summary.objects
      .map((o, index) => ({ ...o, index }))
      .filter((o) => !q || o.name.toLowerCase().includes(q));
    const differs = (o: (typeof rows)[number]) => o.inLeft && o.inRight && o.leftUnique + o.changed + o.rightUnique > 0;
    return renderPage(c, deps, 'pages/compare/result.njk', {
      title: 'Compare result',
      jobId,
      summary,
      q,
      differing: rows.filter(differs),
      unchanged: rows.filter((o) => o.inLeft && o.inRight && !differs(o)),
      onlyLeft: rows.filter((o) => o.inLeft && !o.inRight),
      onlyRight: rows.filter((o) => !o.inLeft && o.inRight),
    });
  });

  app.get('/compare/:jobId/objects/:index', async (c) => {
    const { jobId, summary } = await resultOf(c);
    const index = objectOf(c, summary);
    const sections: Record<DifferenceLine['side'], DifferenceLine[]> = { left: [], right: [], both: [] };
    for await (const line of readDifferences(deps.config.dataDir, organizationOf(c).id, jobId, index)) {
      const list = sections[line.side];
      if (list.length < SHOWN_PER_SECTION) list.push(line);
    }
    const object = summary.objects[index];
    return renderPage(c, deps, 'pages/compare/object.njk', {
      title: `Compare · ${object?.name}`,
      jobId,
      index,
      summary,
      object,
      onlyLeft: sections.left,
      onlyRight: sections.right,
      changed: sections.both,
      shownMax: SHOWN_PER_SECTION,
    });
  });

  app.get('/compare/:jobId/objects/:index/diff', async (c) => {
    const { jobId, summary } = await resultOf(c);
    const index = objectOf(c, summary);
    const key = (c.req.query('key') ?? '').slice(0, 4000);
    let found: DifferenceLine | undefined;
    for await (const line of readDifferences(deps.config.dataDir, organizationOf(c).id, jobId, index)) {
      if (line.key === key && line.side === 'both') found = line;
    }
    if (!found?.diff) throw new NotFoundError('No such changed component in this compare.');
    if (c.req.query('download') === '1') {
      const name = resultFileName(key.split('/').pop() ?? 'component', deps.now(), 'diff');
      return c.body(found.diff, 200, {
        'Content-Type': 'text/x-diff; charset=utf-8',
        'Content-Disposition': `attachment; filename="${name}"`,
        'Cache-Control': 'no-store',
      });
    }
    const layout = c.req.query('view') === 'unified' ? 'unified' : 'side';
    return renderPage(c, deps, 'pages/compare/diff.njk', {
      title: `Compare · ${key}`,
      jobId,
      index,
      summary,
      object: summary.objects[index],
      key,
      layout,
      unified: found.diff
        .split('\n')
        .filter((l, i) => i > 1 && l !== '')
        .map((l) => ({ op: l.startsWith('@@') ? '@' : l[0], text: l })),
      rows: sideBySide(found.diff),
    });
  });
  return app;
}
