// The role, permissions and accessible accounts fields shared by the user form and the API key
// form (views/partials/grant-fields.njk): what the editor may hand out is enabled, the rest is
// shown disabled, and the accounts offered are those the editor reaches (plus any already
// chosen, so saving never drops them silently).
import type { Context } from 'hono';
import { reachesAllUnder } from '../access/grants.ts';
import { canReach, type Principal } from '../access/principal.ts';
import type { AppEnv } from '../http/env.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { PERMISSION_LABELS, PERMISSIONS } from '../identity/permissions.ts';
import { descendantsOf, KIND_LABELS } from '../tenancy/organizations.ts';

const MAX_ACCOUNT_CHOICES = 500;

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
  let accounts: { id: string; name: string; kind: string }[] = [];
  if (org.kind !== 'customer') {
    const rows = await c.get('em').find(Organization, descendantsOf(org), {
      orderBy: { name: 'asc' },
      limit: MAX_ACCOUNT_CHOICES,
    });
    accounts = rows
      .filter((o) => canReach(editor, o) || chosen.includes(o.id))
      .map((o) => ({ id: o.id, name: o.name, kind: KIND_LABELS[o.kind] }));
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
    portal: org.kind !== 'customer',
  };
}
