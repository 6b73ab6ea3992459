// The download link of a summary report (when its settings say "link"): the token in the link,
// an expiry, and a signed-in user who may see the report's organization. Anyone else, and a
// wrong token, gets a 404; an expired link a 410.
import { Hono } from 'hono';
import { canReach } from '../access/principal.ts';
import { AppError, NotFoundError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf, requireUser } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import { openSummaryReport } from '../notifications/summary-report.ts';

export function summaryReportRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/reports/*', requireUser(deps));
  app.get('/reports/summary/:file', async (c) => {
    const id = c.req.param('file').replace(/\.csv$/, '');
    const found = await openSummaryReport(c.get('em'), id, c.req.query('token') ?? '', deps.now());
    if (!found || !canReach(principalOf(c), found.report.organization as IOrganization)) {
      throw new NotFoundError('There is no such report.');
    }
    if (found.expired) throw new AppError('link_expired', 'This report link has expired.', 410);
    return c.body(found.report.csv, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${found.report.fileName}"`,
      'Cache-Control': 'no-store',
    });
  });
  return app;
}
