// Smart alerts: a notification type other code raises (a service's alert rules, e.g. an unusual
// number of deleted records). One call queues it in the caller's transaction; `key` names the
// alert's occurrence, so raising the same one twice mails once.
import type { EntityManager } from '@mikro-orm/core';
import { queueNotification } from './queue.ts';

export interface SmartAlert {
  organizationId: string;
  /** Unique per occurrence (rule, task and the run or day it fired for). */
  key: string;
  title: string;
  message: string;
  task?: { id: string; name: string } | null;
  at: Date;
}

export async function raiseSmartAlert(em: EntityManager, alert: SmartAlert): Promise<void> {
  await queueNotification(em, {
    organizationId: alert.organizationId,
    type: 'smart_alerts',
    eventKey: `smart-alert:${alert.key}`,
    payload: {
      event: 'alert',
      organizationName: '',
      taskId: alert.task?.id ?? null,
      taskName: alert.task?.name ?? null,
      title: alert.title.slice(0, 200),
      message: alert.message.slice(0, 4000),
      linkPath: alert.task ? `/tasks/${alert.task.id}` : null,
      linkLabel: alert.task ? 'Open the task' : null,
    },
    at: alert.at,
  });
}
