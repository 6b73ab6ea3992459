import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../core/app.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../helpers/kernel.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

describe('health', () => {
  it('is alive and ready on a fresh appliance', async () => {
    expect(await (await t.app.request('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', storage: 'ok' } });
  });

  it('is not ready when the default storage is gone', async () => {
    rmSync(t.kernel.deps.config.storageDir, { recursive: true });
    const ready = await t.app.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', checks: { database: 'ok', storage: 'not writable' } });
  });
});

describe('security headers', () => {
  it('sets a CSP that allows only the appliance itself', async () => {
    const res = await t.app.request('/setup');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('errors', () => {
  beforeEach(async () => {
    await completeSetupVia(t.app);
  });

  it('sends HSTS only over HTTPS (directly, or from a trusted proxy that says so)', async () => {
    expect((await t.app.request('http://localhost/setup')).headers.get('strict-transport-security')).toBeNull();
    const direct = await t.app.request('https://backup.example.com/setup');
    expect(direct.headers.get('strict-transport-security')).toMatch(/^max-age=\d+; includeSubDomains$/);
    const proxied = await createTestApp({ HOLDFAST_TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const res = await proxied.app.request(
        'http://localhost/setup',
        { headers: { 'x-forwarded-proto': 'https' } },
        { incoming: { socket: { remoteAddress: '127.0.0.1', remotePort: 40_000, remoteFamily: 'IPv4' } } },
      );
      expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=/);
    } finally {
      await proxied.close();
    }
  });

  it('marks every API response as not to be stored, errors included', async () => {
    await completeSetupVia(t.app);
    for (const path of ['/api/v1/status', '/api/v1/me', '/api/v1/organizations', '/api/v1/nothing-here']) {
      const res = await t.app.request(path);
      expect([path, res.headers.get('cache-control')]).toEqual([path, 'no-store']);
    }
  });

  it('renders a 404 page for browsers and JSON under /api', async () => {
    const page = await t.app.request('/nothing-here');
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('Page not found');
    const api = await t.app.request('/api/v1/nothing-here');
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: { code: 'not_found', message: 'There is nothing at this address.' } });
  });

  it('hides the details of an unexpected error and quotes the request id', async () => {
    // A fresh app instance, so test-only failing routes can be added before its first request.
    const app = createApp(t.kernel.deps);
    app.get('/boom', () => {
      throw new Error('database password is hunter2');
    });
    app.get('/api/v1/boom', () => {
      throw new Error('database password is hunter2');
    });
    const page = await app.request('/boom');
    expect(page.status).toBe(500);
    const html = await page.text();
    expect(html).toContain('Something went wrong');
    expect(html).toContain(page.headers.get('x-request-id'));
    expect(html).not.toContain('hunter2');
    const api = await app.request('/api/v1/boom');
    expect(api.status).toBe(500);
    const body = (await api.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('internal_error');
    expect(body.error.message).not.toContain('hunter2');
    expect(t.logs.join('')).toContain('unhandled error');
  });
});

describe('bad request bodies', () => {
  it('answers malformed, oversized and non-form bodies with 4xx, never 500', async () => {
    await completeSetupVia(t.app);
    const post = (headers: Record<string, string>, body: string | Uint8Array) =>
      t.app.request('/login', { method: 'POST', headers: { origin: 'http://localhost', ...headers }, body });
    expect((await post({ 'content-type': 'multipart/form-data' }, 'garbage')).status).toBe(400);
    expect((await post({ 'content-type': 'multipart/form-data; boundary=x' }, '--x\r\nbroken')).status).toBe(400);
    const withFile =
      '--b\r\nContent-Disposition: form-data; name="email"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n';
    expect((await post({ 'content-type': 'multipart/form-data; boundary=b' }, withFile)).status).toBe(400);
    expect((await post({ 'content-type': 'application/json' }, '{"email":"a"}')).status).toBe(415);
    const huge = await post({ 'content-type': 'application/x-www-form-urlencoded' }, `email=${'a'.repeat(300 * 1024)}`);
    expect(huge.status).toBe(413);
    expect(await huge.text()).toContain('Requests are limited to 256 KiB.');
    const api = await t.app.request('/api/v1/status', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(300 * 1024),
    });
    expect(api.status).toBe(413);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });
});

describe('static assets', () => {
  it('serves htmx, the stylesheet and the icon from the appliance', async () => {
    const htmx = await t.app.request('/static/htmx.min.js?v=1');
    expect(htmx.status).toBe(200);
    expect(htmx.headers.get('content-type')).toContain('javascript');
    expect(htmx.headers.get('cache-control')).toContain('immutable');
    expect(await htmx.text()).toContain('htmx');
    expect((await t.app.request('/static/app.css')).headers.get('content-type')).toContain('text/css');
    expect((await t.app.request('/static/favicon.svg')).status).toBe(200);
  });

  it('does not leave its folder', async () => {
    await completeSetupVia(t.app);
    for (const path of [
      '/static/..%2F..%2Fpackage.json',
      '/static/../../package.json',
      '/static/%2e%2e/layouts/base.njk',
      '/static/nope.css',
    ]) {
      expect((await t.app.request(path)).status).toBe(404);
    }
  });
});

describe('REST API v1', () => {
  it('publishes an OpenAPI 3.1 document generated from the routes', async () => {
    const res = await t.app.request('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/activity',
      '/activity/export.csv',
      '/audit',
      '/audit/export.csv',
      '/jobs',
      '/jobs/{id}',
      '/jobs/{id}/cancel',
      '/jobs/{id}/compare',
      '/jobs/{id}/download',
      '/me',
      '/oauth/token',
      '/organizations/{id}',
      '/organizations/{id}/api-keys',
      '/organizations/{id}/api-keys/{clientId}',
      '/organizations/{id}/children',
      '/organizations/{id}/drill-policy',
      '/organizations/{id}/integrations',
      '/organizations/{id}/integrations/{integrationId}',
      '/organizations/{id}/integrations/{integrationId}/companies',
      '/organizations/{id}/integrations/{integrationId}/company-mappings',
      '/organizations/{id}/integrations/{integrationId}/company-mappings/{accountId}',
      '/organizations/{id}/integrations/{integrationId}/test',
      '/organizations/{id}/invoice-lines.csv',
      '/organizations/{id}/invoices',
      '/organizations/{id}/invoices.csv',
      '/organizations/{id}/invoices/{invoiceId}',
      '/organizations/{id}/invoices/{invoiceId}/issue',
      '/organizations/{id}/invoices/{invoiceId}/paid',
      '/organizations/{id}/ip-restrictions',
      '/organizations/{id}/ip-rules',
      '/organizations/{id}/ip-rules/{ruleId}',
      '/organizations/{id}/notification-recipients',
      '/organizations/{id}/notification-recipients/{recipientId}',
      '/organizations/{id}/partner-access',
      '/organizations/{id}/psa-companies',
      '/organizations/{id}/received-invoices',
      '/organizations/{id}/received-invoices/{invoiceId}',
      '/organizations/{id}/received-invoices/{invoiceId}/pdf',
      '/organizations/{id}/removal',
      '/organizations/{id}/sso/domains',
      '/organizations/{id}/sso/domains/{domainId}',
      '/organizations/{id}/sso/domains/{domainId}/verify',
      '/organizations/{id}/sso/policy',
      '/organizations/{id}/sso/providers',
      '/organizations/{id}/sso/providers/{providerId}',
      '/organizations/{id}/storage',
      '/organizations/{id}/storage-locations',
      '/organizations/{id}/storage-locations/{locationId}',
      '/organizations/{id}/storage-locations/{locationId}/test',
      '/organizations/{id}/storage-locations/{locationId}/verification',
      '/organizations/{id}/storage-locations/{locationId}/verification/jobs',
      '/organizations/{id}/summary-report-settings',
      '/organizations/{id}/usage-history',
      '/organizations/{id}/users',
      '/organizations/{id}/users/{userId}',
      '/organizations/{id}/webhooks',
      '/organizations/{id}/webhooks/{webhookId}',
      '/organizations/{id}/webhooks/{webhookId}/deliveries',
      '/organizations/{id}/webhooks/{webhookId}/test',
      '/status',
      '/tasks',
      '/tasks/{id}',
      '/tasks/{id}/chart',
      '/tasks/{id}/compare',
      '/tasks/{id}/connection',
      '/tasks/{id}/discover',
      '/tasks/{id}/drills',
      '/tasks/{id}/entities',
      '/tasks/{id}/entities/activate',
      '/tasks/{id}/entities/backup-now',
      '/tasks/{id}/entities/delete',
      '/tasks/{id}/entities/pause',
      '/tasks/{id}/entities/restore',
      '/tasks/{id}/entities/{entityId}/items',
      '/tasks/{id}/entities/{entityId}/snapshots',
      '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/item',
      '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/items',
      '/tasks/{id}/pause',
      '/tasks/{id}/restore',
      '/tasks/{id}/resume',
      '/tasks/{id}/smart-alerts',
      '/tasks/{id}/smart-alerts/{alertId}',
      '/tasks/{id}/usage.csv',
      '/usage',
      '/usage/mail',
    ]);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Error', 'Status', 'CurrentUser']));
  });

  it('reports status without credentials', async () => {
    const before = (await (await t.app.request('/api/v1/status')).json()) as {
      setupRequired: boolean;
      version: string;
    };
    expect(before.setupRequired).toBe(true);
    await completeSetupVia(t.app);
    const after = (await (await t.app.request('/api/v1/status')).json()) as { setupRequired: boolean; version: string };
    expect(after.setupRequired).toBe(false);
    expect(after.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('answers /me with 401 JSON anonymously and with the user when signed in', async () => {
    await completeSetupVia(t.app);
    const anonymous = await t.app.request('/api/v1/me');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: { code: 'unauthenticated', message: 'Sign in first.' } });
    const cookie = await signIn(t.app);
    const me = await t.app.request('/api/v1/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    const body = (await me.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      email: 'admin@acme.example',
      role: 'administrator',
      organization: { kind: 'root', name: 'Acme Managed Services' },
    });
    expect(JSON.stringify(body)).not.toMatch(/password/i);
  });

  it('renders a readable reference of the API', async () => {
    await completeSetupVia(t.app);
    const cookie = await signIn(t.app);
    const res = await t.app.request('/api/v1/docs', { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<code>/api/v1/status</code>');
    expect(html).toContain('<code>/api/v1/me</code>');
    expect(html).toContain('CurrentUser');
  });
});
