// The role, permissions and accessible accounts fields shared by the user form and the API key
// form (views/partials/grant-fields.njk): what the editor may hand out is enabled, the rest is
// shown disabled; the accounts already chosen are listed (so saving never drops them silently)
// and more are found by a type-ahead limited to the accounts the editor reaches.
import type { Context } from 'hono';
import { reachesAllUnder } from '../access/grants.ts';
import type { Principal } from '../access/principal.ts';
import type { AppEnv } from '../http/env.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { PERMISSION_LABELS, PERMISSIONS } from '../identity/permissions.ts';
import { descendantsOf, KIND_LABELS } from '../tenancy/organizations.ts';

export interface GrantFormInput {
  role: 'administrator' | 'custom';
  permissions: string[];
  accessibleAccounts: 'all' | 'selected';
  accessibleOrganizationIds: string[];
}

/** The grant fields of a posted form (`accounts` is the checkbox list of account ids). */
export function grantFromForm(form: Record<string, string>, lists: Record<string, string[]>): GrantFormInput {
  return {
    role: (form.role ?? '') as GrantFormInput['role'],
    permissions: lists.permissions ?? [],
    accessibleAccounts: (form.accessibleAccounts || 'all') as GrantFormInput['accessibleAccounts'],
    accessibleOrganizationIds: lists.accounts ?? [],
  };
}

/** The context grant-fields.njk needs besides values and errors. */
export async function grantFieldsContext(
  c: Context<AppEnv>,
  editor: Principal,
  org: IOrganization,
  chosen: readonly string[] = [],
) {
  // Only the chosen accounts are listed; more are found with the type-ahead (GET /accounts/search).
  let accounts: { id: string; name: string; kind: string }[] = [];
  let accountsBelow = false;
  if (org.kind !== 'customer') {
    const em = c.get('em');
    const rows = chosen.length
      ? await em.find(
          Organization,
          { $and: [descendantsOf(org), { id: { $in: [...chosen] } }] },
          { orderBy: { name: 'asc' } },
        )
      : [];
    accounts = rows.map((o) => ({ id: o.id, name: o.name, kind: KIND_LABELS[o.kind] }));
    accountsBelow = rows.length > 0 || (await em.count(Organization, descendantsOf(org))) > 0;
  }
  return {
    permissions: PERMISSIONS.map((p) => ({
      id: p,
      ...PERMISSION_LABELS[p],
      held: editor.isAdministrator || editor.permissions.has(p),
    })),
    canGrantAdministrator: editor.isAdministrator,
    reachesAll: reachesAllUnder(editor, org),
    accounts,
    accountsBelow,
    portal: org.kind !== 'customer',
  };
}
