// POST /portal/bulk: the accounts list's bulk actions on the ticked rows — pause or resume
// backups, assign a storage location (core/tenancy/bulk-actions.ts), subscribe trial accounts
// (core/billing/trials.ts). Answers with the list and a banner saying what changed and what was left as it was; a ticked id outside the portal is a 404.
import { Hono } from 'hono';
import { subscribeAccounts } from '../billing/trials.ts';
import { ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { assignStorageLocation, bulkSentence, setBackupsOfAccounts, tickedAccounts } from '../tenancy/bulk-actions.ts';
import { formLists } from './forms.ts';

const ACTIONS = ['pause', 'resume', 'storage', 'subscribe'] as const;

/** The list's filters the bulk form carries, so the answer returns to the same list. */
export const LIST_FIELDS = ['q', 'kind', 'status', 'backup', 'trial', 'sort', 'all'] as const;

export function listUrl(lists: Record<string, string[]>): string {
  const params = new URLSearchParams();
  for (const name of LIST_FIELDS) {
    const value = lists[name]?.[0];
    if (value) params.set(name, value.slice(0, 200));
  }
  const query = params.toString();
  return query ? `/portal?${query}` : '/portal';
}

export function portalBulkRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/portal/bulk', requireUser(deps));
  app.post('/portal/bulk', requirePermission('add_accounts'), async (c) => {
    const em = c.get('em');
    const principal = principalOf(c);
    const current = organizationOf(c);
    const lists = await formLists(c, ['account', 'action', 'location', ...LIST_FIELDS]);
    const back = listUrl(lists);
    const fields = { action: lists.action?.[0] ?? '', location: lists.location?.[0] ?? '' };
    const account = lists.account;
    const action = fields.action as (typeof ACTIONS)[number];
    if (!ACTIONS.includes(action)) {
      return redirectWithFlash(c, deps, back, 'Choose what to do with the ticked accounts.', 'failure');
    }
    try {
      const accounts = await tickedAccounts(em, principal, current, account ?? []);
      const actor = auditActorOf(c, deps);
      if (action === 'subscribe') {
        // Trials become paying accounts from today and their held backups resume (seed 000 §3.1.5).
        const subscribed = await subscribeAccounts(em, current, accounts, actor, deps.now());
        const sentence = bulkSentence('Subscribed', { ...subscribed, tasks: 0 }, false);
        return redirectWithFlash(c, deps, back, sentence, subscribed.done.length ? 'notice' : 'failure');
      }
      const outcome =
        action === 'storage'
          ? await assignStorageLocation(em, principal, accounts, fields.location ?? '', actor)
          : await setBackupsOfAccounts(
              em,
              principal,
              current,
              accounts,
              action === 'pause' ? 'paused' : 'active',
              actor,
            );
      const verb =
        action === 'pause'
          ? 'Paused the backups of'
          : action === 'resume'
            ? 'Resumed the backups of'
            : 'Assigned the storage location to';
      const failed = outcome.done.length === 0;
      return redirectWithFlash(
        c,
        deps,
        back,
        bulkSentence(verb, outcome, action !== 'storage'),
        failed ? 'failure' : 'notice',
      );
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const message = Object.values(err.fields ?? {})[0] ?? err.message;
      return redirectWithFlash(c, deps, back, message, 'failure');
    }
  });
  return app;
}
