// The API reference at /api/v1/docs: served by the appliance from its own OpenAPI document (no
// CDN, no inline script or style), one section per tag reached from a table of contents, each
// operation folded under its method and path, and the descriptions' Markdown rendered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let html: string;
let doc: { paths: Record<string, Record<string, { tags?: string[]; description?: string }>> };

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const cookie = await signIn(t.app);
  const res = await t.app.request('/api/v1/docs', { headers: { cookie } });
  expect(res.status).toBe(200);
  html = await res.text();
  doc = (await (await t.app.request('/api/v1/openapi.json')).json()) as typeof doc;
});

afterAll(async () => {
  await t?.close();
});

function operations() {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, ...op })),
  );
}

describe('the API reference page', () => {
  it('has a table of contents linking to one section per tag', () => {
    const tags = [...new Set(operations().map((o) => o.tags?.[0] ?? 'General'))];
    expect(tags.length).toBeGreaterThan(5);
    const toc = html.match(/<nav class="api-toc[^"]*"[\s\S]*?<\/nav>/)?.[0] ?? '';
    for (const tag of tags) {
      const id = `tag-${tag.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      expect(toc).toContain(`href="#${id}"`);
      expect(html).toContain(`<section class="panel" id="${id}"`);
    }
  });

  it('folds each operation under its method and path', () => {
    const folded = html.match(/<details class="operation" id="(?!schema-)/g) ?? [];
    expect(folded.length).toBe(operations().length);
    expect(html).toContain('<code>/api/v1/oauth/token</code>');
  });

  it('renders the Markdown of descriptions: no literal backticks', () => {
    expect(operations().some((o) => o.description?.includes('`'))).toBe(true);
    const text = html.replace(/<script[\s\S]*?<\/script>/g, '');
    expect(text).not.toContain('`');
    expect(html).toContain('<code>{error:{code,message}}</code>');
  });

  it('loads nothing from elsewhere and has no inline script or style', () => {
    expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/)/);
    expect(html).not.toMatch(/\sstyle="/);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });
});
