// Settings › Notifications of the organization being worked in ("Manage notifications"): the
// recipients and the types each receives, with the inheritance rule stated on the page, and the
// summary report's settings.
import { type Context, Hono } from 'hono';
import { ValidationError } from '../../errors.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { timeZoneChoices } from '../../identity/time-zone.ts';
import { NOTIFICATION_TYPE_LABELS, NOTIFICATION_TYPES, type NotificationType } from '../../notifications/entities.ts';
import {
  createRecipient,
  deleteRecipient,
  findRecipient,
  listRecipients,
  type RecipientInput,
  updateRecipient,
} from '../../notifications/recipients.ts';
import { type ReportSettings, reportSettingsOf, saveReportSettings } from '../../notifications/summary-settings.ts';
import { formFields, formLists } from '../forms.ts';

const BASE = '/settings/notifications';
// The recipients table heads each type's column without the trailing "notification", so six
// types and the recipient fit a desktop row; the stacked phone rows and the form say it in full.
const TYPES = NOTIFICATION_TYPES.map((id) => ({
  id,
  label: NOTIFICATION_TYPE_LABELS[id],
  column: NOTIFICATION_TYPE_LABELS[id].replace(/ notification$/, ''),
}));

interface ReportForm {
  values: Record<string, unknown>;
  errors: Record<string, string>;
}

const HOURS = Array.from({ length: 24 }, (_, h) => ({ value: h, label: `${String(h).padStart(2, '0')}:00` }));

interface RecipientForm {
  id?: number;
  values: { email: string; displayName: string; types: string[] };
  errors: Record<string, string>;
}

export function notificationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requirePermission('manage_notifications'));
  app.use(`${BASE}/*`, requirePermission('manage_notifications'));

  const page = async (c: Context<AppEnv>, form?: RecipientForm, status: 200 | 422 = 200, reportForm?: ReportForm) => {
    const org = organizationOf(c);
    const recipients = await listRecipients(c.get('em'), org);
    const saved = await reportSettingsOf(c.get('em'), org);
    const user = c.get('user');
    // Unsaved, the report proposes the editing user's own zone.
    const report: ReportForm = reportForm ?? {
      values: { ...saved, timeZone: saved.enabled ? saved.timeZone : (user?.timeZone ?? saved.timeZone) },
      errors: {},
    };
    return renderPage(
      c,
      deps,
      'pages/settings/notifications.njk',
      {
        title: 'Notifications',
        types: TYPES,
        organizationKind: org.kind,
        recipients: recipients.map((r) => ({
          id: r.id,
          email: r.email,
          displayName: r.displayName,
          types: r.types,
        })),
        form,
        report,
        hours: HOURS,
        timeZones: timeZoneChoices(),
        focus: form
          ? (Object.keys(form.errors)[0] ?? 'email')
          : reportForm
            ? `report-${Object.keys(reportForm.errors)[0] ?? 'enabled'}`
            : undefined,
      },
      status,
    );
  };

  const inputOf = async (c: Context<AppEnv>): Promise<RecipientInput & { displayName: string; types: string[] }> => {
    const fields = await formFields(c);
    const { types = [] } = await formLists(c, ['types']);
    return { email: fields.email ?? '', displayName: fields.displayName ?? '', types: types as NotificationType[] };
  };

  app.get(BASE, (c) => page(c));
  app.get(`${BASE}/new`, (c) =>
    page(c, { values: { email: '', displayName: '', types: [...NOTIFICATION_TYPES] }, errors: {} }),
  );
  app.get(`${BASE}/:id/edit`, async (c) => {
    const r = await findRecipient(c.get('em'), organizationOf(c), Number(c.req.param('id')));
    return page(c, { id: r.id, values: { email: r.email, displayName: r.displayName, types: r.types }, errors: {} });
  });

  // Before `${BASE}/:id`, which would take "report" for a recipient id.
  app.post(`${BASE}/report`, async (c) => {
    const fields = await formFields(c);
    const hour = /^\d{1,2}$/.test(fields.hour ?? '') ? Number(fields.hour) : Number.NaN;
    const input: ReportSettings = {
      enabled: fields.enabled === 'on',
      format: fields.format as ReportSettings['format'],
      delivery: fields.delivery as ReportSettings['delivery'],
      frequency: fields.frequency as ReportSettings['frequency'],
      hour,
      timeZone: fields.timeZone ?? '',
      onlyWhenFailed: fields.onlyWhenFailed === 'on',
      split: (fields.split ?? 'consolidated') as ReportSettings['split'],
    };
    try {
      await saveReportSettings(c.get('em'), organizationOf(c), input, deps.now());
      return redirectWithFlash(c, deps, BASE, 'Summary report settings saved.');
    } catch (err) {
      if (err instanceof ValidationError) {
        return page(c, undefined, 422, { values: { ...input, hour: fields.hour }, errors: err.fields ?? {} });
      }
      throw err;
    }
  });

  app.post(BASE, async (c) => {
    const input = await inputOf(c);
    try {
      await createRecipient(c.get('em'), organizationOf(c), input, deps.now());
      return redirectWithFlash(c, deps, BASE, `${input.email.trim()} added.`);
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { values: input, errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  app.post(`${BASE}/:id`, async (c) => {
    const org = organizationOf(c);
    const r = await findRecipient(c.get('em'), org, Number(c.req.param('id')));
    const input = await inputOf(c);
    try {
      await updateRecipient(c.get('em'), org, r.id, input);
      return redirectWithFlash(c, deps, BASE, `${r.email} saved.`);
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { id: r.id, values: input, errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  app.post(`${BASE}/:id/delete`, async (c) => {
    const org = organizationOf(c);
    const r = await findRecipient(c.get('em'), org, Number(c.req.param('id')));
    await deleteRecipient(c.get('em'), org, r.id);
    return redirectWithFlash(c, deps, BASE, `${r.email} removed.`);
  });

  return app;
}
