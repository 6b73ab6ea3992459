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
