// What the moved-clock billing tests build usage from: a task per account with entities of given
// kinds, counts, states and stored bytes, and entity state changes during the month. `tasks`
// maps an account's id to its task's id.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';

/** An entity group: name prefix, kind, how many, active?, stored bytes each. */
export type EntitySpec = [string, string, number, boolean, number];

export function usageFixtures(em: () => EntityManager) {
  const tasks = new Map<string, string>();
  return {
    tasks,
    /** A task of the account with these entities, made on 2026-10-01, last run on 2026-10-31. */
    async entities(org: IOrganization, specs: EntitySpec[]): Promise<void> {
      const e = em();
      const task = e.create(BackupTask, {
        organization: org.id,
        service: 'test-service',
        name: `${org.name} backup`,
        connection: 'not-a-sealed-connection',
        createdAt: new Date('2026-10-01T00:00:00Z'),
      });
      for (const [prefix, kind, count, active, stored] of specs) {
        for (let i = 1; i <= count; i++) {
          e.create(TaskEntity, {
            task,
            externalId: `${org.name}-${prefix}-${i}`,
            name: `${prefix} ${i}`,
            kind,
            pluginState: null,
            status: active ? 'success' : 'not_active',
            storedBytes: stored,
            lastRunAt: new Date('2026-10-31T03:00:00Z'),
          });
        }
      }
      await e.flush();
      tasks.set(org.id, task.id);
    },
    /** Sets the state of the account's entities of a group by their numbers. */
    async setStatus(org: IOrganization, prefix: string, numbers: number[], status: 'scheduled' | 'archived') {
      await em().nativeUpdate(
        TaskEntity,
        { task: tasks.get(org.id), externalId: { $in: numbers.map((n) => `${org.name}-${prefix}-${n}`) } },
        { status },
      );
    },
  };
}
