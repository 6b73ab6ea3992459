// Where each task's service keeps the catalog's fields (name, path, author, modified), from its
// plugin's searchFields: what indexing a task's snapshots and reading them for Recovery need.
import type { EntityManager } from '@mikro-orm/core';
import type { FieldsOfTask } from '../catalog/indexer.ts';
import { type ItemFieldMap, itemFieldMap } from '../catalog/item-fields.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { BackupTask } from './entities.ts';

/** The field map of a service kind; an unknown kind (plugin removed) maps nothing. */
export function serviceItemFields(kind: string): ItemFieldMap {
  return itemFieldMap(servicePlugin(kind)?.searchFields ?? []);
}

/**
 * The field map of each task id, looked up once per task (for a reindex). A snapshot whose task
 * is not a backup task here (written by `holdfast repo backup`) maps nothing: its keys are its paths.
 */
export function taskItemFields(em: EntityManager): FieldsOfTask {
  const known = new Map<string, ItemFieldMap>();
  return async (taskId) => {
    let map = known.get(taskId);
    if (!map) {
      const task = await em.findOne(BackupTask, { id: taskId }, { fields: ['service'] });
      map = task ? serviceItemFields(task.service) : {};
      known.set(taskId, map);
    }
    return map;
  };
}
