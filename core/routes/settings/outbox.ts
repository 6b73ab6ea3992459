// Settings › Outbox: every message the appliance sent or could not send, for the root
// administrators only. On an appliance without a mail server this is how invitations and
// reset links reach people.
import { Hono } from 'hono';
import { ForbiddenError } from '../../access/errors.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { organizationOf, principalOf } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { MailMessage } from '../../mail/entities.ts';

const PAGE_SIZE = 25;

export function outboxRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/settings/outbox', async (c, next) => {
    const principal = principalOf(c);
    if (!(principal.home.kind === 'root' && principal.isAdministrator && organizationOf(c).kind === 'root')) {
      throw new ForbiddenError('Only administrators of the operator organization can read the outbox.');
    }
    await next();
  });

  app.get('/settings/outbox', async (c) => {
    const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1);
    const [messages, total] = await c
      .get('em')
      .findAndCount(MailMessage, {}, { orderBy: { id: 'desc' }, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
    return renderPage(c, deps, 'pages/settings/outbox.njk', {
      title: 'Outbox',
      smtpConfigured: Boolean(deps.config.smtpUrl),
      messages: messages.map((m) => ({
        id: m.id,
        createdAt: m.createdAt,
        to: m.to,
        subject: m.subject,
        text: m.text,
        status: m.status,
        error: m.error,
        attempts: m.attempts,
        nextAttemptAt: m.status === 'outbox' ? m.nextAttemptAt : null,
      })),
      page,
      pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      total,
    });
  });
  return app;
}
