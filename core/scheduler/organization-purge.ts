// When an organization's removal grace period ends, purgeDueOrganizations calls its purge hooks:
// this one deletes everything the organization stored (backups, export results, compare results). Its tasks, entities and jobs go with the
// organization's row (foreign keys cascade).
import { deleteOrganizationCompares } from '../compare/expiry.ts';
import type { WorkContext } from '../jobs/context.ts';
import { deleteOrganizationExports } from '../recovery/downloads.ts';
import { registerPurgeHook } from '../tenancy/removal.ts';

export type StorageRemovalHook = () => void;

export function registerStoragePurge(ctx: Pick<WorkContext, 'storage' | 'log' | 'settings'>): StorageRemovalHook {
  return registerPurgeHook(async (em, org) => {
    await ctx.storage.removeOrganization(org.id);
    await deleteOrganizationExports(em, org.id);
    await deleteOrganizationCompares(ctx.settings.dataDir, org.id);
    ctx.log.info({ organization: org.id }, 'stored backups of the organization removed');
  });
}
