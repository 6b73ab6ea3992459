import { describe, expect, it } from 'vitest';
import type { Grant } from '../../../core/access/grants.ts';
import { type Principal, principalForApiKey } from '../../../core/access/principal.ts';
import { referenceModel, typeLabel } from '../../../core/api/reference.ts';
import { safeNext } from '../../../core/http/middleware.ts';
import { activityTabsFor, navigationFor } from '../../../core/http/navigation.ts';
import type { IOrganization, IUser } from '../../../core/identity/entities.ts';
import type { Permission } from '../../../core/identity/permissions.ts';

const account = { id: 'a', kind: 'customer', path: '/a/', name: 'Account' } as IOrganization;
const ADMINISTRATOR: Grant = {
  role: 'administrator',
  permissions: [],
  accessibleAccounts: 'all',
  accessibleOrganizationIds: [],
};
/** An API key with an administrator's scope on the account. */
const adminKey = () => principalForApiKey('k', account, ADMINISTRATOR, { id: 'creator' } as IUser);

/** A Custom user's principal holding only these permissions. */
function holding(permissions: Permission[]): Principal {
  return { ...adminKey(), isAdministrator: false, permissions: new Set(permissions) };
}

describe('safeNext', () => {
  it.each([
    ['/jobs?x=1', '/jobs?x=1'],
    [undefined, '/'],
    ['https://evil.example', '/'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['jobs', '/'],
    ['/\t/evil.example', '/'],
    ['/\n/evil.example', '/'],
    ['/ /evil.example', '/'],
    ['/%09/evil.example', '/%09/evil.example'],
    ['/jobs#top', '/jobs#top'],
    // Normalizing dot segments must not leave a protocol-relative `//host` behind.
    ['/..//127.0.0.1:8080/phish', '/'],
    ['/%2e%2e//127.0.0.1/phish', '/'],
    ['/%2E%2E//evil.example', '/'],
    ['/x/..//evil.example', '/'],
    ['/.//evil.example', '/'],
    ['/./\\evil.example', '/'],
    ['/x/../jobs', '/jobs'],
    ['/jobs/..', '/'],
  ])('%s → %s', (input, expected) => {
    expect(safeNext(input)).toBe(expected);
  });
});

describe('log redaction', () => {
  it('never writes passwords, tokens, keys or cookies', async () => {
    const { Writable } = await import('node:stream');
    const { createLogger } = await import('../../../core/logging.ts');
    const lines: string[] = [];
    const log = createLogger(
      'info',
      new Writable({
        write: (c, _e, done) => {
          lines.push(String(c));
          done();
        },
      }),
    );
    log.info(
      {
        password: 'hunter2-secret',
        user: { token: 'tok-secret', passwordHash: 'scrypt$x' },
        masterKey: 'key-secret',
        req: { headers: { cookie: 'holdfast_session=abc', authorization: 'Bearer xyz' } },
      },
      'x',
    );
    const out = lines.join('');
    for (const secret of [
      'hunter2-secret',
      'tok-secret',
      'scrypt$x',
      'key-secret',
      'holdfast_session=abc',
      'Bearer xyz',
    ])
      expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });
});

describe('navigation', () => {
  it('lists the seed sections in order and marks the current one', () => {
    const nav = navigationFor('/', adminKey(), account);
    // A customer account has no Accounts, but its Billing (the invoices addressed to it).
    expect(nav.map((n) => n.label)).toEqual(['Billing', 'Homepage', 'Jobs', 'Recovery', 'Activity', 'Settings']);
    expect(nav.filter((n) => n.current).map((n) => n.label)).toEqual(['Homepage']);
    expect(nav.find((n) => n.label === 'Jobs')?.available).toBe(true);
    expect(navigationFor('/jobs', adminKey(), account).find((n) => n.current)?.label).toBe('Jobs');
    // Jobs and Recovery are for callers who may restore or export; Activity for its viewers.
    expect(navigationFor('/').map((n) => n.label)).toEqual(['Homepage', 'Settings']);
    expect(navigationFor('/', holding(['export_download']), account).map((n) => n.label)).toEqual([
      'Homepage',
      'Jobs',
      'Recovery',
      'Settings',
    ]);
  });

  it('shows Activity to holders of either activity permission, with the tabs they may open', () => {
    const labels = (p: Permission[]) => navigationFor('/', holding(p), account).map((n) => n.label);
    expect(labels([])).toEqual(['Homepage', 'Settings']);
    expect(labels(['view_activity'])).toEqual(['Homepage', 'Activity', 'Settings']);
    expect(labels(['view_security_audit'])).toEqual(['Homepage', 'Activity', 'Settings']);
    expect(activityTabsFor('/activity/events/3', adminKey())).toEqual([
      { label: 'System activity', href: '/activity', current: true },
      { label: 'Security audit', href: '/activity/security-audit', current: false },
    ]);
    expect(activityTabsFor('/activity/security-audit', holding(['view_security_audit']))).toEqual([
      { label: 'Security audit', href: '/activity/security-audit', current: true },
    ]);
  });
});

describe('API reference model', () => {
  it('labels schema types for people', () => {
    expect(typeLabel({ type: 'string', format: 'email' })).toBe('string (email)');
    expect(typeLabel({ $ref: '#/components/schemas/Error' })).toBe('Error');
    expect(typeLabel({ type: 'array', items: { type: 'integer' } })).toBe('array of integer');
    expect(typeLabel({ enum: ['a', 'b'] })).toBe('"a" | "b"');
  });

  it('groups operations by tag and flattens schema fields', () => {
    const model = referenceModel({
      info: { title: 'T', version: '1' },
      paths: { '/x': { get: { tags: ['System'], summary: 'X', responses: { 200: { description: 'ok' } } } } },
      components: {
        schemas: {
          S: {
            type: 'object',
            required: ['a'],
            properties: { a: { type: 'object', properties: { b: { type: 'string' } } } },
          },
        },
      },
    });
    expect(model.groups[0]?.name).toBe('System');
    expect(model.schemas[0]?.fields.map((f) => f.name)).toEqual(['a', 'a.b']);
  });
});
