// When an organization's removal grace period ends, purgeDueOrganizations calls its purge hooks:
// this one deletes everything the organization stored. Its tasks, entities and jobs go with the
// organization's row (foreign keys cascade).
import type { WorkContext } from '../jobs/context.ts';
import { registerPurgeHook } from '../tenancy/removal.ts';

export type StorageRemovalHook = () => void;

export function registerStoragePurge(ctx: Pick<WorkContext, 'storage' | 'log'>): StorageRemovalHook {
  return registerPurgeHook(async (_em, org) => {
    await ctx.storage.removeOrganization(org.id);
    ctx.log.info({ organization: org.id }, 'stored backups of the organization removed');
  });
}
