// The access findings of issue 13, re-run as a script over every operation of the app's own
// OpenAPI document (/api/v1/openapi.json), with two tenants (partners A and B):
// - tenant B (an administrator's session, and a key with an administrator's scope) aims every
//   operation at tenant A's ids: 404 each time, and nothing changes;
// - a Custom user of tenant A holding exactly one permission (one run per permission) gets 403
//   for every operation that permission does not allow, and gets past the check (neither 401
//   nor 403) for the ones it does;
// - a key scoped to that one permission, made by a creator who also holds "Manage integrations",
//   gets exactly the user's answers: a key never does more than its scope and its creator.
// OPERATIONS (tests/helpers/api-probes.ts) is the expected rule per operation; an operation
// added to the API without an entry there fails the first test.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../core/access/api-keys.ts';
import { principalForUser } from '../../../core/access/principal.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { PERMISSIONS, type Permission } from '../../../core/identity/permissions.ts';
import { getTokens, type Json, json } from '../../helpers/api.ts';
import {
  adminToken,
  allows,
  init,
  OPERATIONS,
  objectsOf,
  probes,
  snapshot,
  UNADDRESSED,
} from '../../helpers/api-probes.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let partnerA: IOrganization;
let partnerB: IOrganization;
let operations: string[];
const results = mkdtempSync(join(tmpdir(), 'holdfast-security-probes-'));
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  root = await rootOf(em());
  partnerA = await makeOrganization(em(), root, 'partner', 'Tenant A');
  partnerB = await makeOrganization(em(), root, 'partner', 'Tenant B');
  await makeOrganization(em(), partnerA, 'customer', 'Customer of A');
  await makeOrganization(em(), partnerB, 'customer', 'Customer of B');
  const doc = await json(await t.app.request('/api/v1/openapi.json'));
  operations = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
}, 60_000);
afterAll(async () => {
  await t.close();
});

describe('the probe script', () => {
  it('knows the access rule of every operation of the OpenAPI document, and no other', () => {
    expect(operations.length).toBeGreaterThan(50);
    expect(operations.filter((name) => !UNADDRESSED.has(name)).sort()).toEqual(Object.keys(OPERATIONS).sort());
  });
});

describe("tenant B aimed at tenant A's ids", () => {
  it('gets 404 on every operation, as an administrator and as a key with an administrator scope; nothing changes', async () => {
    const victim = await objectsOf(t, partnerA, results);
    const adminB = await makeUser(em(), partnerB, 'admin@tenant-b.example');
    const actors = {
      session: { cookie: await signIn(t.app, adminB.email, TEST_PASSWORD) },
      key: { token: await adminToken(t, adminB, partnerB) },
    };
    const before = await snapshot(t);
    const answers: string[] = [];
    for (const [actor, credential] of Object.entries(actors)) {
      for (const probe of probes(operations, victim)) {
        const res = await t.app.request(probe.url, init(probe, credential));
        answers.push(`${actor} ${probe.name} ${res.status}${res.status === 404 ? '' : ` ${await res.text()}`}`);
      }
    }
    expect(answers.filter((a) => !a.endsWith(' 404'))).toEqual([]);
    expect(await snapshot(t)).toBe(before);
  });
});

describe('a Custom user with exactly one permission, and a key scoped to it', () => {
  for (const permission of PERMISSIONS) {
    it(`"${permission}": 403 for every operation it does not allow, through the check for those it does, and the key answers the same`, async () => {
      const tag = `${permission.replaceAll('_', '-')}`;
      const holder = await makeUser(em(), partnerA, `${tag}@tenant-a.example`, {
        role: 'custom',
        permissions: [permission],
      });
      const cookie = await signIn(t.app, holder.email, TEST_PASSWORD);
      const creatorPermissions: Permission[] = [...new Set<Permission>(['manage_integrations', permission])];
      const creator = await makeUser(em(), partnerA, `${tag}-creator@tenant-a.example`, {
        role: 'custom',
        permissions: creatorPermissions,
      });
      const e = em();
      const made = await createApiKey(
        e,
        e.merge(partnerA),
        principalForUser(creator),
        { label: creator.email },
        {
          role: 'custom',
          permissions: [permission],
        },
      );
      const token = (await getTokens(t.app, { clientId: made.key.id, secret: made.secret })).access_token;

      const wrong: string[] = [];
      for (const [actor, credential] of [
        ['user', { cookie }],
        ['key', { token }],
      ] as const) {
        // Fresh objects per actor: what one run deletes, the next still finds.
        for (const probe of probes(operations, await objectsOf(t, partnerA, results))) {
          const res = await t.app.request(probe.url, init(probe, credential));
          const allowed = allows(probe.rule, permission);
          const refused = res.status === 401 || res.status === 403;
          if (allowed === refused || (!allowed && res.status !== 403)) {
            wrong.push(
              `${actor} ${probe.name}: ${res.status} (${allowed ? 'allowed' : 'not allowed'}) ${await res.text()}`,
            );
          }
        }
      }
      expect(wrong).toEqual([]);
    });
  }
});
