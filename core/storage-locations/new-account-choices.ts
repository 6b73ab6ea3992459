// The storage select of a portal's add-account form: the locations the portal may give an
// account, with its default for new accounts preselected.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { defaultForNewAccounts } from './assignment.ts';
import { availableLocations } from './locations.ts';

export interface StorageChoices {
  locations: { id: string; name: string }[];
  defaultId: string;
}

export async function storageChoicesFor(em: EntityManager, portal: IOrganization): Promise<StorageChoices> {
  const [locations, defaults] = await Promise.all([availableLocations(em, portal), defaultForNewAccounts(em, portal)]);
  return { locations: locations.map((l) => ({ id: l.id, name: l.name })), defaultId: defaults.location.id };
}
