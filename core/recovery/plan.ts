// What a restore will do, before it starts: the request is checked as starting it would be, then
// the snapshot is opened (shared lock), the task connected and the plugin's `plan()` asked —
// reads only. Shown by the restore dialog; services without `plan()` have nothing to show. With a
// data folder, the plan gets a work folder of its own under it (work-dirs.ts), removed after.
import { rm } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/core';
import { withLock } from '../../storage/locks.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { itemFieldMap } from '../catalog/item-fields.ts';
import type { Logger } from '../logging.ts';
import type { RestoreItem, RestorePlan, ServicePlugin } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { connectTask } from '../tasks/connection.ts';
import { type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import type { TaskStorage } from '../tasks/storage.ts';
import { selectedItems } from './items.ts';
import { relatedSnapshots, sameRoundSnapshots } from './related.ts';
import { checkRestore, type RestoreRequest, type StartContext } from './start.ts';
import { makePlanWorkDir } from './work-dirs.ts';

export interface PlanContext {
  storage: TaskStorage;
  services: (kind: string) => ServicePlugin | undefined;
  credentials: CredentialCipher;
  log: Logger;
  signal: AbortSignal;
  /** The appliance's data folder, for the plan's work folder; absent: the plugin's fallback. */
  dataDir?: string | undefined;
}

/** The plugin's plan of a restore request, or null when the service has none to show. */
export async function planRestore(
  work: PlanContext,
  ctx: StartContext,
  request: RestoreRequest,
): Promise<RestorePlan | null> {
  const checked = await checkRestore(ctx, request);
  const { task, entity, destination, params } = checked;
  const plugin = work.services(task.service);
  if (!plugin) return null;
  const em: EntityManager = ctx.em;
  const opened = await work.storage.open({
    id: task.id,
    organizationId: task.organization.id,
    storageLocation: task.storageLocation ?? null,
  });
  try {
    return await withLock(
      opened.repo.sink,
      'shared',
      { purpose: `restore plan of ${entity.name}`.slice(0, 200) },
      async () => {
        const reader = await SnapshotReader.open(opened.repo, params.snapshotId);
        if (reader.manifest.task !== task.id || reader.manifest.entity !== entity.externalId) {
          throw new Error(`snapshot ${params.snapshotId.slice(0, 12)} is not a snapshot of ${entity.name}`);
        }
        // Another task's entity: its connection (another org) is the one written to.
        const target = destination.task.id === task.id ? task : (destination.task as IBackupTask);
        const connection = await connectTask(em, target, plugin, work.credentials, work.signal, work.log);
        let workDir: string | undefined;
        try {
          if (!connection.plan) return null;
          workDir = work.dataDir ? await makePlanWorkDir(work.dataDir) : undefined;
          const fields = itemFieldMap(plugin.searchFields);
          const rules = { caseInsensitive: plugin.pathsCaseInsensitive };
          async function* items(): AsyncGenerator<RestoreItem> {
            for await (const item of selectedItems(reader, params.selection, work.signal, fields, rules)) {
              yield {
                key: item.key,
                kind: item.kind,
                size: item.size,
                ...(item.meta ? { meta: item.meta } : {}),
                content: () => reader.content(item),
              };
            }
          }
          return await connection.plan({
            entity: { externalId: entity.externalId, name: entity.name, kind: entity.kind },
            destination: { externalId: destination.externalId, name: destination.name, kind: destination.kind },
            mode: params.mode,
            items: items(),
            options: params.options,
            related: relatedSnapshots({
              repo: opened.repo,
              taskId: task.id,
              snapshotId: params.snapshotId,
              sameRound: () => sameRoundSnapshots(em, task.id, params.snapshotId),
              entity: async (externalId) => {
                const found = await em.findOne(TaskEntity, { task, externalId });
                return found ? { externalId, name: found.name, kind: found.kind } : undefined;
              },
            }),
            apiUsageLimitPercent: target.apiUsageLimitPercent ?? null,
            ...(workDir ? { workDir } : {}),
            signal: work.signal,
            log: work.log,
          });
        } finally {
          await connection.close?.();
          if (workDir) await rm(workDir, { recursive: true, force: true });
        }
      },
      opened.repo,
    );
  } finally {
    await opened.close();
  }
}
