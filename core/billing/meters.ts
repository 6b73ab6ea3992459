// What a plan can price, read from the usage history (core/tenancy/usage-history.ts) without
// naming a plugin: every protected item, the protected items of one entity kind (whatever kinds
// the services report: users, team folders, orgs …), or stored / logical GiB.
import type { EntityManager } from '@mikro-orm/core';
import { servicePlugins } from '../plugins/registry.ts';

const GIB = 1024 ** 3;

export const GENERIC_METERS = {
  protected: 'Protected items',
  stored_gib: 'Stored data (GiB)',
  logical_gib: 'Backed-up data (GiB)',
} as const;

export const KIND_METER_PREFIX = 'protected:';

/** A meter id is a generic one or `protected:<entity kind>`. */
export function isMeter(meter: string): boolean {
  if (meter in GENERIC_METERS) return true;
  return meter.startsWith(KIND_METER_PREFIX) && /^[\w.-]{1,100}$/.test(meter.slice(KIND_METER_PREFIX.length));
}

/** The service plugins' own word for an entity kind ("User", "Team folder"), or the kind itself. */
export function kindLabelOfAnyService(kind: string): string {
  for (const plugin of servicePlugins()) {
    const found = plugin.entityKinds.find((k) => k.kind === kind);
    if (found) return found.label;
  }
  return kind;
}

/** A meter's name for people ("Protected items: User"). */
export function meterLabel(meter: string, kindLabel: (kind: string) => string = kindLabelOfAnyService): string {
  if (meter in GENERIC_METERS) return GENERIC_METERS[meter as keyof typeof GENERIC_METERS];
  return `Protected items: ${kindLabel(meter.slice(KIND_METER_PREFIX.length))}`;
}

/** The entity kinds the usage history has recorded so far (what the plan form offers). */
export async function recordedKinds(em: EntityManager): Promise<string[]> {
  const rows = (await em
    .getConnection()
    .execute('select distinct kind from usage_kind_samples order by kind', [], 'all')) as { kind: string }[];
  return rows.map((r) => r.kind);
}

export interface DailyValue {
  organizationId: string;
  day: string;
  /** The day's figure: items as a whole number, bytes as GiB numerator over GIB. */
  value: number;
}

/** The daily figures of a meter for the organizations under any of `pathPrefixes` in [fromDay, toDay), one query. */
export async function dailyValuesUnder(
  em: EntityManager,
  meter: string,
  pathPrefixes: readonly string[],
  fromDay: string,
  toDay: string,
): Promise<DailyValue[]> {
  if (pathPrefixes.length === 0) return [];
  // '/' + 1: the path range of a subtree. Nested prefixes would return a row twice: keep the outer ones.
  const outer = [...new Set(pathPrefixes)].sort().filter((p, i, all) => !all.slice(0, i).some((q) => p.startsWith(q)));
  const column =
    meter === 'stored_gib' ? 's.stored_bytes' : meter === 'logical_gib' ? 's.logical_bytes' : 's.protected';
  const kind = meter.startsWith(KIND_METER_PREFIX) ? meter.slice(KIND_METER_PREFIX.length) : null;
  const table = kind ? 'usage_kind_samples' : 'usage_samples';
  const rows = (await em.getConnection().execute(
    `select s.organization_id as org, s.day as day, ${column} as value
     from ${table} s join organizations o on o.id = s.organization_id
     where (${outer.map(() => '(o.path >= ? and o.path < ?)').join(' or ')})
       and s.day >= ? and s.day < ?${kind ? ' and s.kind = ?' : ''}`,
    [...outer.flatMap((p) => [p, `${p.slice(0, -1)}0`]), fromDay, toDay, ...(kind ? [kind] : [])],
    'all',
  )) as { org: string; day: string; value: number }[];
  return rows.map((r) => ({ organizationId: r.org, day: r.day, value: Number(r.value) }));
}

/** Bytes are billed in GiB (2^30 bytes); the divisor of a meter's daily figure. */
export function unitDivisor(meter: string): number {
  return meter === 'stored_gib' || meter === 'logical_gib' ? GIB : 1;
}
