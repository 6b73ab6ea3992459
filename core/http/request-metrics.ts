// Times every request for /metrics, labelled by the route pattern that answered (bounded: never
// the raw path, which holds ids).

import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Metrics } from '../metrics/metrics.ts';
import type { AppEnv } from './env.ts';

export function requestMetrics(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = routePath(c) || 'unmatched';
      metrics.requestServed(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
    }
  };
}
