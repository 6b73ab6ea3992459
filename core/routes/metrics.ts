// GET /metrics: the Prometheus exposition (docs/METRICS.md), for the operator's scraper only.
// Off (404) until HOLDFAST_METRICS_TOKEN or HOLDFAST_METRICS_ALLOW is set; served before the
// session and API-key middleware, since the scraper is neither a user nor an API client.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { addressMatches } from '../access/ip-match.ts';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';

/** Compares digests, so neither the token's length nor its bytes leak through timing. */
function sameToken(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function metricsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/metrics', async (c) => {
    const { metrics, config } = deps;
    if (!metrics) return c.json({ error: { code: 'not_found', message: 'Not found' } }, 404);
    if (config.metricsAllow.length > 0 && !addressMatches(clientIp(c, config), config.metricsAllow)) {
      return c.json(
        { error: { code: 'forbidden', message: 'This address may not read the metrics (HOLDFAST_METRICS_ALLOW).' } },
        403,
      );
    }
    if (config.metricsToken) {
      const given = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
      if (!given || !sameToken(given, config.metricsToken)) {
        c.header('WWW-Authenticate', 'Bearer realm="holdfast-metrics"');
        return c.json(
          { error: { code: 'invalid_token', message: 'Send the metrics token as Authorization: Bearer <token>.' } },
          401,
        );
      }
    }
    const { body, contentType } = await metrics.scrape(deps.orm.em.fork(), deps.now());
    return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  });
  return app;
}
