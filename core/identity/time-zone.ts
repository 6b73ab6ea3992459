// A user's own time zone for the dates the appliance shows them. Unset, pages follow the
// zone the browser reports; set, every page does, whatever browser the user signs in from.
import type { EntityManager } from '@mikro-orm/core';
import { ValidationError } from '../errors.ts';
import type { IUser } from './entities.ts';

/** Zones found known (every page asks for the reader's); Intl accepts any letter case, so bounded. */
const known = new Set<string>();
const MAX_KNOWN = 4096;

/** True when Intl knows the IANA zone (and it fits the column). */
export function isKnownTimeZone(zone: string): boolean {
  if (!zone || zone.length > 64) return false;
  if (known.has(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
  } catch {
    return false;
  }
  if (known.size >= MAX_KNOWN) known.clear();
  known.add(zone);
  return true;
}

/** Every zone the runtime knows, UTC first, for the choice on the profile page. */
export function timeZoneChoices(): string[] {
  return ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];
}

/** Stores the user's zone; an empty value returns them to the browser's. True when it changed. */
export async function setUserTimeZone(em: EntityManager, user: IUser, value: string): Promise<boolean> {
  const zone = value.trim() || null;
  if (zone !== null && !isKnownTimeZone(zone)) {
    throw new ValidationError({ timeZone: 'Choose a time zone from the list.' });
  }
  if ((user.timeZone ?? null) === zone) return false;
  user.timeZone = zone;
  await em.flush();
  return true;
}
