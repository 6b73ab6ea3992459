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
