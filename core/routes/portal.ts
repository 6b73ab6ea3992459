// The portal of a distributor, partner or the operator: the accounts under the organization
// being worked in, adding one, opening one (the session then acts in it, with a banner and a
// way back), and removing or restoring one. Routes parse and authorize; the work is done in
// core/tenancy/. Any account id outside the caller's reach, or not under the organization
// being worked in, is a 404.
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { accountableUser, hasPermission } from '../access/principal.ts';
import { billingTiles, type Forecast, forecasts } from '../billing/billing-status.ts';
import { formatMoney } from '../billing/money.ts';
import {
  DEFAULT_TRIAL_DAYS,
  startTrial,
  TRIAL_STATUS_LABELS,
  TRIAL_STATUSES,
  type TrialStatus,
  trialCounts,
  trialStatusesOf,
} from '../billing/trials.ts';
import { describeDrill, latestAccountDrills } from '../drills/drill-status.ts';
import type { IRestoreDrill } from '../drills/entities.ts';
import { AppError, NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requirePermission, requireUser, sessionPolicy } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { writeSessionCookie } from '../http/session-cookie.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { rotateSession } from '../identity/session-service.ts';
import { bulkMappingChoices } from '../integrations/psa-inherited.ts';
import { availableLocationNames } from '../storage-locations/locations.ts';
import { storageChoicesFor } from '../storage-locations/new-account-choices.ts';
import { mailLinkOrigin } from '../system/public-url.ts';
import {
  type AccountHealthRow,
  BACKUP_STATUS_LABELS,
  BACKUP_STATUSES,
  HEALTH_SORT_COLUMNS,
  TASK_STATUS_LABELS,
} from '../tenancy/account-health.ts';
import {
  ACCOUNT_SORTS,
  type AccountQuery,
  accountTiles,
  hasNestedLevels,
  kindsBelow,
  listAccounts,
  parseAccountQuery,
  tileScope,
} from '../tenancy/account-list.ts';
import { countryName } from '../tenancy/countries.ts';
import {
  CHILD_KINDS,
  descendantsOf,
  KIND_LABELS,
  REMOVAL_CONFIRMATION,
  REMOVAL_GRACE_DAYS,
} from '../tenancy/organizations.ts';
import {
  addAccount,
  findPortalAccount,
  type NewAccountInput,
  recordAccountLeft,
  recordAccountOpened,
  removeAccount,
  restoreAccount,
} from '../tenancy/portal-accounts.ts';
import { usageHistory } from '../tenancy/usage-history.ts';
import { formFields } from './forms.ts';

const KIND_HINTS: Record<string, string> = {
  distributor: 'Sells through partners; has partners and direct customers of its own.',
  partner: 'A managed service provider with customer accounts of its own.',
  customer: 'A business whose services are backed up.',
};

/** Messages shown after a redirect, chosen by key so a link cannot make the page say anything else. */
const INVITE_FAILED =
  'The account has been added, but its administrator could not be invited: a user with that email address exists. Open the account and invite one from Settings › Users.';

const NOTICES = {
  added: 'The account has been added.',
  invited:
    'The account has been added and its administrator has been sent an invitation (the link works for 24 hours).',
  invitedToOutbox:
    "The account has been added. Its administrator's invitation is waiting in the Outbox (no mail server is configured); the link works for 24 hours.",
  removal: 'Removal requested. The account can be restored until its purge date.',
  restored: 'The account has been restored.',
} as const;

/** The portal exists only where accounts can be held. */
const portalOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (CHILD_KINDS[organizationOf(c).kind].length === 0) throw new NotFoundError('There is nothing at this address.');
  await next();
};

function accountQueryString(query: AccountQuery, page?: number): string {
  const params = new URLSearchParams();
  if (query.q) params.set('q', query.q);
  if (query.kind) params.set('kind', query.kind);
  if (query.status) params.set('status', query.status);
  if (query.backup) params.set('backup', query.backup);
  if (query.trial) params.set('trial', query.trial);
  if (query.sort !== 'name') params.set('sort', query.sort);
  if (query.all) params.set('all', '1');
  if (page && page > 1) params.set('page', String(page));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The URL of the list sorted by `column`: ascending first, or the other way if already sorted by it. */
function sortUrl(query: AccountQuery, column: string): string {
  const sort = (query.sort === column ? `${column}_desc` : column) as AccountQuery['sort'];
  return `/portal${accountQueryString({ ...query, sort })}`;
}

/** aria-sort of a column header. */
function sortState(query: AccountQuery, column: string): 'ascending' | 'descending' | 'none' {
  if (query.sort === column) return 'ascending';
  return query.sort === `${column}_desc` ? 'descending' : 'none';
}

interface BillingOfRows {
  trials: ReadonlyMap<string, { status: TrialStatus; endsAt: Date }>;
  amounts: ReadonlyMap<string, Forecast>;
}

function healthView(
  row: AccountHealthRow,
  current: IOrganization,
  drills: ReadonlyMap<string, IRestoreDrill>,
  billing?: BillingOfRows,
) {
  const drill = drills.get(row.id);
  const trial = billing?.trials.get(row.id);
  const amount = billing?.amounts.get(row.id);
  return {
    ...row,
    trial: trial ? { ...trial, label: TRIAL_STATUS_LABELS[trial.status] } : null,
    amount: amount ? formatMoney(amount.totalCents, amount.currency) : null,
    drill: drill
      ? {
          passed: drill.passed,
          finishedAt: drill.finishedAt,
          summary: describeDrill({ ...drill, bytes: Number(drill.bytes) }),
        }
      : null,
    kindLabel: KIND_LABELS[row.kind],
    backupLabel: BACKUP_STATUS_LABELS[row.backupStatus],
    taskStatusLabel: TASK_STATUS_LABELS[row.taskStatus],
    parentName: row.parentId && row.parentId !== current.id ? row.parentName : null,
    holdsAccounts: CHILD_KINDS[row.kind].length > 0,
  };
}

function accountView(org: IOrganization, current: IOrganization) {
  const parent = org.parent as IOrganization | null | undefined;
  return {
    id: org.id,
    name: org.name,
    kind: KIND_LABELS[org.kind],
    code: org.code,
    address: org.address,
    country: countryName(org.country),
    contactName: org.contactName,
    contactEmail: org.contactEmail,
    phone: org.phone,
    status: org.status,
    purgeAfter: org.purgeAfter,
    createdAt: org.createdAt,
    parentName: parent && parent.id !== current.id ? parent.name : null,
  };
}

export function portalRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/portal', requireUser(deps));
  app.use('/portal/*', requireUser(deps));
  const canView = requirePermission('view_dashboard');
  const canManage = requirePermission('add_accounts');

  app.get('/portal', canView, portalOnly, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const query = parseAccountQuery(c.req.query());
    const now = deps.now();
    const result = await listAccounts(c.get('em'), principal, org, query, undefined, now);
    const drills = await latestAccountDrills(
      c.get('em'),
      result.rows.map((r) => r.id),
    );
    // Trial badges and the Amount column: the next invoice as this month's usage so far prices it.
    const billing: BillingOfRows = {
      trials: await trialStatusesOf(
        c.get('em'),
        result.rows.map((r) => r.id),
        now,
      ),
      amounts: await forecasts(
        c.get('em'),
        result.rows.map((r) => r.id),
        now,
      ),
    };
    const columns = Object.keys(HEALTH_SORT_COLUMNS).filter((k) => k !== 'created');
    const context = {
      rows: result.rows.map((row) => healthView(row, org, drills, billing)),
      sortUrls: Object.fromEntries(columns.map((k) => [k, sortUrl(query, k)])),
      sortStates: Object.fromEntries(columns.map((k) => [k, sortState(query, k)])),
      backupStatuses: BACKUP_STATUSES.map((value) => ({ value, label: BACKUP_STATUS_LABELS[value] })),
      // The list's filters, carried by the usage report form when no row is ticked.
      usageFilters: Object.fromEntries(new URLSearchParams(accountQueryString({ ...query, page: 1 }).slice(1))),
      total: result.total,
      page: result.page,
      pageCount: result.pageCount,
      previousUrl: result.page > 1 ? `/portal${accountQueryString(query, result.page - 1)}` : null,
      nextUrl: result.page < result.pageCount ? `/portal${accountQueryString(query, result.page + 1)}` : null,
      query,
      filtersActive: Boolean(query.q || query.kind || query.status || query.backup || query.trial),
      trialStatuses: TRIAL_STATUSES.map((value) => ({ value, label: TRIAL_STATUS_LABELS[value] })),
      // A partner list (seed 003): accounts and task status per partner instead of one account's figures.
      partnerList: result.rows.some((row) => CHILD_KINDS[row.kind].length > 0),
      canAdd: hasPermission(principal, 'add_accounts') && org.status === 'active',
      // Bulk actions and the pencil.
      canManage: hasPermission(principal, 'add_accounts'),
      storageLocations: hasPermission(principal, 'add_accounts') ? await availableLocationNames(c.get('em'), org) : [],
      requesterEmail: accountableUser(principal)?.email ?? null,
      // "Map to PSA company…": the PSA integrations covering these accounts that the caller may manage.
      psaIntegrations: hasPermission(principal, 'add_accounts')
        ? await bulkMappingChoices(c.get('em'), principal, org)
        : [],
    };
    Object.assign(context, { rowQuery: context.partnerList ? '?cols=partner' : '' });
    if (wantsFragment(c)) {
      // The address bar gets the tidy form of the query (no empty fields).
      c.header('HX-Push-Url', `/portal${accountQueryString(query, result.page)}`);
      return renderFragment(c, deps.views, 'partials/portal/accounts-results.njk', context);
    }
    const tiles = await accountTiles(c.get('em'), principal, org);
    const trials = await trialCounts(c.get('em'), tileScope(principal, org), now);
    const money = await billingTiles(c.get('em'), org, now);
    const amounts = (a: Record<string, number>) =>
      Object.entries(a)
        .map(([currency, cents]) => formatMoney(cents, currency))
        .join(' · ') || 'None';
    return renderPage(c, deps, 'pages/portal/accounts.njk', {
      title: 'Accounts',
      tiles: BACKUP_STATUSES.map((value) => ({
        value,
        label: BACKUP_STATUS_LABELS[value],
        count: tiles[value],
        url: `/portal?all=1&kind=customer&backup=${value}`,
        active: query.backup === value,
      })),
      trialTiles: TRIAL_STATUSES.map((value) => ({
        value,
        label: TRIAL_STATUS_LABELS[value],
        count: trials[value],
        url: `/portal?all=1&trial=${value}`,
        active: query.trial === value,
      })),
      billingTiles: [
        { value: 'current', label: 'Current', figure: String(money.current), note: 'accounts paid up' },
        {
          value: 'due',
          label: 'Due',
          figure: amounts(money.due.amounts),
          note: `${money.due.accounts} account${money.due.accounts === 1 ? '' : 's'}`,
        },
        {
          value: 'overdue',
          label: 'Overdue',
          figure: amounts(money.overdue.amounts),
          note: `${money.overdue.accounts} account${money.overdue.accounts === 1 ? '' : 's'}`,
        },
      ],
      organizationName: org.name,
      kinds: kindsBelow(org).map((k) => ({ value: k, label: KIND_LABELS[k as IOrganization['kind']] })),
      sorts: Object.entries(ACCOUNT_SORTS).map(([value, s]) => ({ value, label: s.label })),
      nestedLevels: hasNestedLevels(org),
      ...context,
    });
  });

  const newAccountPage = async (
    c: Context<AppEnv>,
    values: Record<string, unknown>,
    errors: Record<string, string>,
    status: 200 | 409 | 422 = 200,
    failure?: string,
  ) => {
    const org = organizationOf(c);
    const storage = await storageChoicesFor(c.get('em'), org);
    return renderPage(
      c,
      deps,
      'pages/portal/new-account.njk',
      {
        title: 'Add account',
        organizationName: org.name,
        kinds: CHILD_KINDS[org.kind].map((k) => ({ value: k, label: KIND_LABELS[k], hint: KIND_HINTS[k] })),
        canInviteAdmin: principalOf(c).isAdministrator,
        storageLocations: storage.locations,
        trialDays: DEFAULT_TRIAL_DAYS,
        values: { storageLocationId: storage.defaultId, ...values },
        errors,
        failure,
        focus: Object.keys(errors)[0] ?? 'name',
      },
      status,
    );
  };

  app.get('/portal/new', canManage, portalOnly, (c) => {
    const kinds = CHILD_KINDS[organizationOf(c).kind];
    return newAccountPage(c, { kind: kinds.includes('customer') ? 'customer' : kinds[0] }, {});
  });

  app.post('/portal/new', canManage, portalOnly, async (c) => {
    const form = await formFields(c);
    const input: NewAccountInput = {
      kind: (form.kind ?? '') as NewAccountInput['kind'],
      name: form.name ?? '',
      contactName: form.contactName ?? '',
      contactEmail: form.contactEmail ?? '',
      phone: form.phone ?? '',
      adminEmail: form.adminEmail ?? '',
      storageLocationId: form.storageLocationId ?? '',
    };
    const principal = principalOf(c);
    const trial = form.trial === 'yes' ? { trial: 'yes', trialEndsOn: form.trialEndsOn ?? '' } : {};
    const trialEndsAt = trial.trialEndsOn ? new Date(`${trial.trialEndsOn}T00:00:00Z`) : undefined;
    if (trialEndsAt && (Number.isNaN(trialEndsAt.getTime()) || trialEndsAt.getTime() <= deps.now().getTime())) {
      return newAccountPage(
        c,
        { ...input, ...trial },
        { trialEndsOn: 'A date in the future, such as 2026-12-31.' },
        422,
      );
    }
    try {
      const added = await addAccount(
        {
          em: c.get('em'),
          mailer: deps.mailer,
          now: deps.now(),
          linkOrigin: () => mailLinkOrigin(c.get('em'), deps.config.publicUrl),
        },
        principal,
        organizationOf(c),
        input,
        auditActorOf(c, deps),
      );
      // A trial (core/billing/trials.ts): 14 days unless the form chose its end.
      if (trial.trial) await startTrial(c.get('em'), added.account, deps.now(), trialEndsAt);
      // Without the dashboard the user cannot open the account's page: back to the form.
      const target = hasPermission(principal, 'view_dashboard')
        ? `/portal/accounts/${added.account.id}`
        : '/portal/new';
      if (added.inviteFailure) return redirectWithFlash(c, deps, target, INVITE_FAILED, 'failure');
      if (!added.admin) return redirectWithFlash(c, deps, target, NOTICES.added);
      return redirectWithFlash(c, deps, target, deps.config.smtpUrl ? NOTICES.invited : NOTICES.invitedToOutbox);
    } catch (err) {
      if (err instanceof ValidationError) return newAccountPage(c, { ...input, ...trial }, err.fields ?? {}, 422);
      if (err instanceof AppError && err.status === 409) {
        return newAccountPage(c, { ...input, ...trial }, {}, 409, err.message);
      }
      throw err;
    }
  });

  app.get('/portal/accounts/:id', canView, portalOnly, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const em = c.get('em');
    const account = await findPortalAccount(em, principal, org, c.req.param('id'));
    await em.populate(account, ['parent']);
    return renderPage(c, deps, 'pages/portal/account.njk', {
      title: account.name,
      organizationName: org.name,
      account: accountView(account, org),
      accountsBelow: await em.count(Organization, descendantsOf(account)),
      canManage: hasPermission(principal, 'add_accounts'),
      usageMonths: await usageHistory(em, account),
    });
  });

  app.post('/portal/accounts/:id/open', canView, portalOnly, async (c) => {
    const em = c.get('em');
    const current = organizationOf(c);
    const account = await findPortalAccount(em, principalOf(c), current, c.req.param('id'));
    const session = c.get('session');
    if (!session) throw new AppError('unauthenticated', 'Sign in first.', 401);
    const rotated = await rotateSession(em, session, { actingOrganization: account }, sessionPolicy(deps), deps.now());
    await writeSessionCookie(c, deps, rotated.token, rotated.session.expiresAt);
    await recordAccountOpened(em, current, account, auditActorOf(c, deps));
    // The Task status of a partner or distributor drills into its own dashboard (seed 003).
    const toPortal = (await formFields(c)).to === 'portal' && CHILD_KINDS[account.kind].length > 0;
    return c.redirect(toPortal ? '/portal' : '/', 303);
  });

  const removalPage = (
    c: Context<AppEnv>,
    account: IOrganization,
    accountsBelow: number,
    errors: Record<string, string>,
    status: 200 | 422 = 200,
  ) =>
    renderPage(
      c,
      deps,
      'pages/portal/remove-account.njk',
      {
        title: `Remove ${account.name}`,
        organizationName: organizationOf(c).name,
        account: accountView(account, organizationOf(c)),
        accountsBelow,
        confirmation: REMOVAL_CONFIRMATION,
        graceDays: REMOVAL_GRACE_DAYS,
        purgeDate: new Date(deps.now().getTime() + REMOVAL_GRACE_DAYS * 86_400_000),
        errors,
      },
      status,
    );

  app.get('/portal/accounts/:id/remove', canManage, portalOnly, async (c) => {
    const em = c.get('em');
    const account = await findPortalAccount(em, principalOf(c), organizationOf(c), c.req.param('id'));
    if (account.status === 'removal_pending') return c.redirect(`/portal/accounts/${account.id}`, 303);
    return removalPage(c, account, await em.count(Organization, descendantsOf(account)), {});
  });

  app.post('/portal/accounts/:id/remove', canManage, portalOnly, async (c) => {
    const em = c.get('em');
    const current = organizationOf(c);
    const account = await findPortalAccount(em, principalOf(c), current, c.req.param('id'));
    const form = await formFields(c);
    try {
      await removeAccount(em, current, account, form.approve === 'yes', auditActorOf(c, deps), deps.now());
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return removalPage(c, account, await em.count(Organization, descendantsOf(account)), err.fields ?? {}, 422);
    }
    return redirectWithFlash(c, deps, `/portal/accounts/${account.id}`, NOTICES.removal);
  });

  app.post('/portal/accounts/:id/restore', canManage, portalOnly, async (c) => {
    const em = c.get('em');
    const current = organizationOf(c);
    const account = await findPortalAccount(em, principalOf(c), current, c.req.param('id'));
    await restoreAccount(em, current, account, auditActorOf(c, deps));
    return redirectWithFlash(c, deps, `/portal/accounts/${account.id}`, NOTICES.restored);
  });

  // Back from an opened account to one's own organization: always allowed once signed in.
  app.post('/portal/return', async (c) => {
    const principal = principalOf(c);
    const session = c.get('session');
    const acting = c.get('organization');
    if (session?.actingOrganization) {
      const rotated = await rotateSession(
        c.get('em'),
        session,
        { actingOrganization: null },
        sessionPolicy(deps),
        deps.now(),
      );
      await writeSessionCookie(c, deps, rotated.token, rotated.session.expiresAt);
      if (acting && acting.id !== principal.home.id) {
        await recordAccountLeft(c.get('em'), acting, principal.home, auditActorOf(c, deps));
      }
    }
    const portal = CHILD_KINDS[principal.home.kind].length > 0 && hasPermission(principal, 'view_dashboard');
    return c.redirect(portal ? '/portal' : '/', 303);
  });

  return app;
}
