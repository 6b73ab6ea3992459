// The type-ahead behind every account picker: the organization being worked in and the accounts
// under it that the principal may reach, whose name or contact email contains the typed text —
// a few at a time, never the whole list (a portal can hold thousands).
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { type Principal, reachableFilter } from '../access/principal.ts';
import { containsText } from '../db/text-search.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { idSubquery } from './account-health.ts';
import { descendantsOf, KIND_LABELS } from './organizations.ts';
import { findWithin } from './portal-accounts.ts';

export const ACCOUNT_SEARCH_LIMIT = 20;

export interface AccountChoice {
  id: string;
  name: string;
  kind: string;
}

function choice(org: IOrganization): AccountChoice {
  return { id: org.id, name: org.name, kind: KIND_LABELS[org.kind] };
}

/** Up to `limit` matches by name, and whether there were more. */
export async function searchAccounts(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  text: string,
  options: { onlyBelow?: boolean; limit?: number } = {},
): Promise<{ choices: AccountChoice[]; more: boolean }> {
  const limit = options.limit ?? ACCOUNT_SEARCH_LIMIT;
  const q = text.trim().slice(0, 200);
  const conditions: FilterQuery<IOrganization>[] = [reachableFilter(principal, current)];
  // A grant names accounts under the organization, never the organization itself.
  if (options.onlyBelow) conditions.push(descendantsOf(current));
  if (q) conditions.push({ $or: [containsText('name', q), containsText('contact_email', q)] } as never);
  const where = { $and: conditions };
  const rows = await em.find(Organization, where as never, { orderBy: { name: 'asc', id: 'asc' }, limit: limit + 1 });
  return { choices: rows.slice(0, limit).map(choice), more: rows.length > limit };
}

/** What a filter form's picker needs: whether there is anything to pick, and the current choice. */
export async function accountPicker(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  selectedId: string | undefined,
): Promise<{ below: boolean; selected: AccountChoice | null }> {
  // Whether any account is below, not how many: the first one found answers. Plain SQL from the
  // kept subquery: every log page asks, and loading an entity for it cost more than the page's rows.
  const ids = idSubquery(em, { $and: [descendantsOf(current), reachableFilter(principal, current)] });
  const below = ((await em.getConnection().execute(`${ids.sql} limit 1`, ids.params, 'all')) as unknown[]).length > 0;
  const selected = selectedId ? choice(await findWithin(em, principal, current, selectedId)) : null;
  return { below, selected };
}
