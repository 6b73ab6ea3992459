// Settings › Storage of the organization being worked in: where its backups go, the default a
// portal gives new accounts, and the storage locations it may use. Everyone with settings access
// sees them; administrators add, edit, test and remove the organization's own locations (the
// operator's are appliance-wide; an account's own are "bring your own storage") and choose. The
// work is done in core/storage-locations/; any location id the organization does not own is a 404.

import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { ForbiddenError } from '../../access/errors.ts';
import { recordAudit } from '../../audit/audit-service.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { auditActorOf } from '../../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { renderFragment } from '../../http/htmx.ts';
import { jobInitiatorOf } from '../../http/initiator.ts';
import { organizationOf, principalOf } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import type { IOrganization } from '../../identity/entities.ts';
import { sinkPlugin } from '../../plugins/registry.ts';
import {
  backupsOf,
  defaultForNewAccounts,
  type ResolvedLocation,
  resolveLocation,
  setDefaultForNewAccounts,
  setOrganizationLocation,
} from '../../storage-locations/assignment.ts';
import { kindsFor } from '../../storage-locations/fields.ts';
import {
  isLocationOperation,
  type LocationOperation,
  locationJobs,
  OPERATION_LABELS,
  startLocationJobAudited,
} from '../../storage-locations/location-jobs.ts';
import {
  availableLocations,
  ConnectionTestFailedError,
  createLocation,
  deleteLocation,
  findOwnedLocation,
  type LocationView,
  locationFields,
  locationView,
  retestLocation,
  type StorageContext,
  updateLocation,
} from '../../storage-locations/locations.ts';
import { scheduleProblems, verificationOf } from '../../storage-locations/verification.ts';
import { multiNodeMode } from '../../system/node-role.ts';
import { CHILD_KINDS } from '../../tenancy/organizations.ts';
import { formFields } from '../forms.ts';

const BASE = '/settings/storage';

/** Messages shown after a redirect, chosen by key so a link cannot make the page say anything else. */
const NOTICES = {
  added: 'The storage location passed its connection test and has been added.',
  saved: 'The storage location has been saved.',
  removed: 'The storage location has been removed.',
  assigned: 'The storage location of this organization has been saved.',
  default: 'The default for new accounts has been saved.',
} as const;

interface FormState {
  id?: string;
  kind: string;
  values: Record<string, string>;
  errors: Record<string, string>;
  test?: { sentence: string; detail: string | null };
  /** Secret settings that hold a stored value (edit form: "leave blank to keep"). */
  secretsSet?: string[];
}

const adminOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!principalOf(c).isAdministrator) {
    throw new ForbiddenError('Only administrators can change storage settings.');
  }
  await next();
};

function sourceText(resolved: ResolvedLocation): string {
  if (resolved.source === 'own') return 'chosen for this organization';
  if (resolved.source === 'inherited')
    return `the default for new accounts of ${resolved.from?.name ?? 'the portal above'}`;
  return 'the appliance default';
}

/** Form values of a stored location (secrets never: their inputs stay empty). */
function valuesOf(view: LocationView): Record<string, string> {
  const values: Record<string, string> = { name: view.name };
  for (const [key, value] of Object.entries(view.settings ?? {})) {
    values[key] = typeof value === 'boolean' ? (value ? 'on' : '') : String(value);
  }
  return values;
}

export function storageSettingsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const ctxOf = (c: Context<AppEnv>): StorageContext => ({
    em: c.get('em'),
    credentials: deps.credentials,
    storageDir: deps.config.storageDir,
    multiNode: multiNodeMode(deps.config),
  });

  const overview = async (
    c: Context<AppEnv>,
    extra: { failure?: string; errors?: Record<string, string> } = {},
    status: 200 | 409 | 422 = 200,
  ) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const isPortal = CHILD_KINDS[org.kind].length > 0;
    const [locations, current, snapshots] = await Promise.all([
      availableLocations(ctx.em, org),
      resolveLocation(ctx.em, org),
      backupsOf(ctx.em, org),
    ]);
    const defaults = isPortal ? await defaultForNewAccounts(ctx.em, org) : null;
    const isAdmin = principalOf(c).isAdministrator;
    const tested = c.req.query('tested');
    return renderPage(
      c,
      deps,
      'pages/settings/storage.njk',
      {
        title: 'Storage',
        organizationName: org.name,
        isRoot: org.kind === 'root',
        isPortal,
        isAdmin,
        locations: locations.map((l) => locationView(ctx, l, org)),
        current: {
          id: current.location.id,
          name: current.location.name,
          source: sourceText(current),
          own: current.source === 'own',
        },
        fixed: snapshots > 0,
        defaults: defaults
          ? {
              id: defaults.location.id,
              name: defaults.location.name,
              own: defaults.source === 'own',
              source: sourceText(defaults),
            }
          : null,
        testedId: tested,
        failure: extra.failure,
        errors: extra.errors ?? {},
        addLabel: org.kind === 'customer' ? 'Bring your own storage' : 'Add storage location',
      },
      status,
    );
  };

  const formPage = (c: Context<AppEnv>, form: FormState, status: 200 | 409 | 422 = 200, failure?: string) => {
    const org = organizationOf(c);
    const plugin = sinkPlugin(form.kind);
    const fields = locationFields(form.kind, org);
    const focus = Object.keys(form.errors)[0] ?? (form.id ? undefined : 'name');
    return renderPage(
      c,
      deps,
      'pages/settings/storage-form.njk',
      {
        title: form.id ? 'Edit storage location' : 'Add storage location',
        form,
        kindLabel: plugin?.label ?? form.kind,
        kinds: form.id ? [] : kindsFor(org),
        primary: fields.filter((f) => !f.advanced),
        advanced: fields.filter((f) => f.advanced),
        advancedOpen: fields.some((f) => f.advanced && form.errors[f.name]),
        isCustomer: org.kind === 'customer',
        focus,
        failure,
      },
      status,
    );
  };

  /** Back to the overview, its banner a one-time flash. */
  const done = (c: Context<AppEnv>, key: keyof typeof NOTICES) => redirectWithFlash(c, deps, BASE, NOTICES[key]);

  app.get(BASE, (c) => overview(c));

  app.get(`${BASE}/new`, adminOnly, (c) => {
    const kinds = kindsFor(organizationOf(c));
    const asked = c.req.query('kind') ?? '';
    const kind = kinds.some((k) => k.kind === asked) ? asked : (kinds.find((k) => k.kind === 's3') ?? kinds[0])?.kind;
    if (!kind) throw new AppError('no_storage_kinds', 'No storage kind is available.', 404);
    return formPage(c, { kind, values: {}, errors: {} });
  });

  app.post(BASE, adminOnly, async (c) => {
    const org = organizationOf(c);
    const form = await formFields(c);
    const kinds = kindsFor(org);
    const kind = kinds.some((k) => k.kind === form.kind) ? (form.kind as string) : (kinds[0]?.kind ?? '');
    const values = withoutSecrets(kind, org, form);
    try {
      await createLocation(
        ctxOf(c),
        org,
        { name: form.name, kind: form.kind, settings: form },
        'form',
        auditActorOf(c, deps),
        deps.now(),
      );
      return done(c, 'added');
    } catch (err) {
      if (err instanceof ConnectionTestFailedError) {
        const test = { sentence: err.result.sentence, detail: err.result.detail };
        return formPage(c, { kind, values, errors: {}, test }, 422);
      }
      if (err instanceof ValidationError) return formPage(c, { kind, values, errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  app.get(`${BASE}/:id/edit`, adminOnly, async (c) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id'));
    const view = locationView(ctx, location, org);
    return formPage(c, {
      id: location.id,
      kind: location.kind,
      values: valuesOf(view),
      errors: {},
      ...secretsNote(view),
    });
  });

  app.post(`${BASE}/:id`, adminOnly, async (c) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id'));
    const form = await formFields(c);
    const state = (errors: Record<string, string>, test?: FormState['test']): FormState => ({
      id: location.id,
      kind: location.kind,
      values: withoutSecrets(location.kind, org, form),
      errors,
      ...(test ? { test } : {}),
      ...secretsNote(locationView(ctx, location, org)),
    });
    try {
      await updateLocation(
        ctx,
        org,
        location,
        { name: form.name, settings: form },
        'replace',
        auditActorOf(c, deps),
        deps.now(),
      );
      return done(c, 'saved');
    } catch (err) {
      if (err instanceof ConnectionTestFailedError) {
        return formPage(c, state({}, { sentence: err.result.sentence, detail: err.result.detail }), 422);
      }
      if (err instanceof ValidationError) return formPage(c, state(err.fields ?? {}), 422);
      if (err instanceof AppError && err.status === 409) return formPage(c, state({}), 409, err.message);
      throw err;
    }
  });

  app.post(`${BASE}/:id/test`, adminOnly, async (c) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id'));
    await retestLocation(ctx, location, deps.now());
    return c.redirect(`${BASE}?tested=${encodeURIComponent(location.id)}#location-${location.id}`, 303);
  });

  // Scheduled verification of an owned location: its schedule, last result (lost items of each
  // snapshot, the repairs that fit), and its verification and repair jobs, started here and run
  // in the background (core/storage-locations/location-jobs.ts); the jobs panel polls while one runs.
  const jobsView = async (c: Context<AppEnv>, location: Parameters<typeof locationJobs>[1]) => {
    const jobs = await locationJobs(c.get('em'), location);
    return {
      active: jobs.some((j) => j.state === 'pending' || j.state === 'in_progress'),
      items: jobs.map((j) => ({
        id: j.id,
        label: OPERATION_LABELS[j.params.operation as LocationOperation],
        state: j.state,
        step: j.progressStep,
        createdAt: j.createdAt,
        finishedAt: j.finishedAt,
        initiator: j.initiatorLabel ?? j.initiatorKind,
        message: j.error ?? (j.log.at(-1)?.message || null),
      })),
    };
  };

  const verificationPage = async (
    c: Context<AppEnv>,
    errors: Record<string, string> = {},
    status: 200 | 422 = 200,
    confirm: LocationOperation | null = null,
  ) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id') as string);
    const schedule = await verificationOf(ctx.em, location);
    const form = status === 422 ? await formFields(c) : null;
    return renderPage(
      c,
      deps,
      'pages/settings/storage-verification.njk',
      {
        title: `Verification of ${location.name}`,
        location: locationView(ctx, location, org),
        schedule: {
          samplePercent: form?.samplePercent ?? String(schedule.samplePercent),
          intervalHours: form?.intervalHours ?? String(schedule.intervalHours),
          cycleRuns: Math.ceil(100 / schedule.samplePercent),
          everyDays: Math.ceil((Math.ceil(100 / schedule.samplePercent) * schedule.intervalHours) / 24),
          runs: schedule.runs,
        },
        result: schedule.lastResult,
        jobs: await jobsView(c, location),
        confirm: confirm ? { operation: confirm, label: OPERATION_LABELS[confirm] } : null,
        errors,
      },
      status,
    );
  };

  app.get(`${BASE}/:id/verification`, adminOnly, (c) => verificationPage(c));

  app.get(`${BASE}/:id/verification/jobs`, adminOnly, async (c) => {
    const location = await findOwnedLocation(c.get('em'), organizationOf(c), c.req.param('id'));
    const jobs = await jobsView(c, location);
    // The poll that sees the last job end reloads the page, which then shows the new result.
    if (c.req.query('polling') && !jobs.active) c.header('HX-Refresh', 'true');
    return renderFragment(c, deps.views, 'partials/settings/location-jobs.njk', {
      location: { id: location.id },
      jobs,
    });
  });

  app.post(`${BASE}/:id/verification`, adminOnly, async (c) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id'));
    const form = await formFields(c);
    const errors = scheduleProblems({ samplePercent: form.samplePercent, intervalHours: form.intervalHours });
    if (Object.keys(errors).length) return verificationPage(c, errors, 422);
    const schedule = await verificationOf(ctx.em, location);
    schedule.samplePercent = Number(form.samplePercent);
    schedule.intervalHours = Number(form.intervalHours);
    await ctx.em.flush();
    await recordAudit(ctx.em, {
      organization: org,
      activity: 'Storage location changed',
      account: org.name,
      description: `Verification of ${location.name}: ${schedule.samplePercent}% of the packs every ${schedule.intervalHours} hours`,
      actor: auditActorOf(c, deps),
    });
    return redirectWithFlash(c, deps, `${BASE}/${location.id}/verification`, 'The schedule has been saved.');
  });

  /** Queues a location job; one already running is said on the page (409). */
  const startJob = async (c: Context<AppEnv>, operation: LocationOperation) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id') as string);
    try {
      await startLocationJobAudited(
        ctx.em,
        org,
        location,
        operation,
        jobInitiatorOf(c, deps),
        auditActorOf(c, deps),
        deps.now(),
      );
    } catch (err) {
      if (err instanceof AppError && err.status === 409)
        return redirectWithFlash(c, deps, `${BASE}/${location.id}/verification`, err.message, 'failure');
      throw err;
    }
    const started =
      operation === 'verify'
        ? 'The verification has started; its result shows here when it ends.'
        : `The ${OPERATION_LABELS[operation].toLowerCase()} has started; a verification follows it.`;
    return redirectWithFlash(c, deps, `${BASE}/${location.id}/verification`, started);
  };

  app.post(`${BASE}/:id/verification/run`, adminOnly, (c) => startJob(c, 'verify'));

  app.post(`${BASE}/:id/verification/repair`, adminOnly, async (c) => {
    // Another organization's location is a 404 before anything about the form is said.
    await findOwnedLocation(ctxOf(c).em, organizationOf(c), c.req.param('id') as string);
    const { operation, confirm } = await formFields(c);
    if (!isLocationOperation(operation) || operation === 'verify')
      throw new ValidationError({ operation: 'Choose rebuild_index or repair_snapshots.' }, 'Unknown repair.');
    // First the page asks, saying what the repair does; the confirmed form starts it.
    if (confirm !== 'yes') return verificationPage(c, {}, 200, operation);
    return startJob(c, operation);
  });

  app.post(`${BASE}/:id/delete`, adminOnly, async (c) => {
    const org = organizationOf(c);
    const ctx = ctxOf(c);
    const location = await findOwnedLocation(ctx.em, org, c.req.param('id'));
    try {
      await deleteLocation(ctx, org, location, auditActorOf(c, deps));
      return done(c, 'removed');
    } catch (err) {
      if (err instanceof AppError && err.status === 409) return overview(c, { failure: err.message }, 409);
      throw err;
    }
  });

  // The organization's choices live under /choice/, apart from the locations' /:id routes.
  app.post(`${BASE}/choice/location`, adminOnly, async (c) => {
    const form = await formFields(c);
    try {
      await setOrganizationLocation(c.get('em'), organizationOf(c), form.location || null, auditActorOf(c, deps));
      return done(c, 'assigned');
    } catch (err) {
      if (err instanceof ValidationError) return overview(c, { errors: err.fields ?? {} }, 422);
      if (err instanceof AppError && err.status === 409) return overview(c, { failure: err.message }, 409);
      throw err;
    }
  });

  app.post(`${BASE}/choice/default`, adminOnly, async (c) => {
    const form = await formFields(c);
    try {
      await setDefaultForNewAccounts(
        c.get('em'),
        organizationOf(c),
        form.defaultForNewAccounts || null,
        auditActorOf(c, deps),
      );
      return done(c, 'default');
    } catch (err) {
      if (err instanceof ValidationError) return overview(c, { errors: err.fields ?? {} }, 422);
      throw err;
    }
  });

  return app;
}

/** The submitted values to show again: secrets are never echoed back into the page. */
function withoutSecrets(kind: string, org: IOrganization, form: Record<string, string>): Record<string, string> {
  const secret = new Set(
    locationFields(kind, org)
      .filter((f) => f.secret)
      .map((f) => f.name),
  );
  return Object.fromEntries(Object.entries(form).filter(([key]) => !secret.has(key)));
}

function secretsNote(view: LocationView): { secretsSet: string[] } {
  return { secretsSet: view.secretsSet };
}
