// Nunjucks, wired for server-rendered pages. Autoescaping is on; templates live in views/.
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

export const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Views {
  render(template: string, context: Record<string, unknown>): string;
}

export function createViews(options: { watch?: boolean } = {}): Views {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: options.watch ?? false }), {
    autoescape: true,
    throwOnUndefined: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
  env.addFilter('datetime', (value: unknown) => {
    const d = value instanceof Date ? value : new Date(String(value));
    return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  });
  return { render: (template, context) => env.render(template, context) };
}
