// Appliance-wide facts that exist once, such as "first-run setup completed". The primary key
// makes each fact a one-time event: inserting it twice fails, which is how setup stays single.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const SystemFact = defineEntity({
  name: 'SystemFact',
  tableName: 'system_facts',
  properties: {
    key: p.string().primary().length(100),
    value: p.string().length(2000),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ISystemFact = InferEntity<typeof SystemFact>;

export const SETUP_COMPLETED = 'setup.completed';

/**
 * A named lease on background work that one node of a cluster does at a time (the integration
 * sender, scheduled verification, the configuration backup, the hourly housekeeping; see
 * core/scheduler/singleton.ts): who holds it and until when. `mark` is what the last holder
 * finished, for work that must not be redone by the next holder (the configuration backup's
 * fingerprint). Used on PostgreSQL; an SQLite appliance is one process.
 */
export const ClusterLease = defineEntity({
  name: 'ClusterLease',
  tableName: 'cluster_leases',
  properties: {
    name: p.string().primary().length(100),
    owner: p.string().length(100).nullable(),
    expiresAt: p.datetime(),
    mark: p.string().length(200).nullable(),
  },
});
export type IClusterLease = InferEntity<typeof ClusterLease>;
