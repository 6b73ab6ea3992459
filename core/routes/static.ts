// Static assets, all served by the appliance itself (no CDN): the stylesheet and icons from
// views/static, htmx from its npm package. Long-lived caching is safe because the URLs carry
// the appliance version.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, resolve, sep } from 'node:path';
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { viewsDir } from '../http/views.ts';

const require = createRequire(import.meta.url);
const staticDir = resolve(viewsDir, 'static');
const vendored: Record<string, string> = {
  'htmx.min.js': require.resolve('htmx.org/dist/htmx.min.js'),
};

const types: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export function staticRoutes(_deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/static/:file{.+}', async (c) => {
    const name = c.req.param('file');
    const type = types[extname(name)];
    const path = vendored[name] ?? resolve(staticDir, name);
    if (!type || !(name in vendored || path.startsWith(`${staticDir}${sep}`))) return c.notFound();
    try {
      const body = await readFile(path);
      return c.body(body, 200, {
        'content-type': type,
        'cache-control': c.req.query('v') ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      });
    } catch {
      return c.notFound();
    }
  });
  app.get('/favicon.ico', (c) => c.redirect('/static/favicon.svg', 301));
  return app;
}
