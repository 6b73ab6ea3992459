// The daily usage samples of each organization (its own tasks, as account_health counts them):
// written once a day by the hourly maintenance, kept so month summaries (max and average of
// protected entities and stored bytes) can be priced by billing (core/tenancy/usage-history.ts).
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

export const UsageSample = defineEntity({
  name: 'UsageSample',
  tableName: 'usage_samples',
  properties: {
    organization: () => p.manyToOne(Organization).primary().deleteRule('cascade'),
    /** The UTC day sampled, YYYY-MM-DD. */
    day: p.string().length(10).primary(),
    protected: p.integer().default(0),
    logicalBytes: p.double().default(0),
    storedBytes: p.double().default(0),
  },
});
export type IUsageSample = InferEntity<typeof UsageSample>;

/** The daily protected entities of an organization per entity kind (what plans pricing one kind of item read). */
export const UsageKindSample = defineEntity({
  name: 'UsageKindSample',
  tableName: 'usage_kind_samples',
  properties: {
    organization: () => p.manyToOne(Organization).primary().deleteRule('cascade'),
    day: p.string().length(10).primary(),
    /** The entity kind as the service plugin names it (a user, a team folder, an org …). */
    kind: p.string().length(100).primary(),
    protected: p.integer().default(0),
  },
});
export type IUsageKindSample = InferEntity<typeof UsageKindSample>;
