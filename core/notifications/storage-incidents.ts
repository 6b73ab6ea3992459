// A storage location that stops answering when a backup or maintenance opens it (the task storage,
// core/storage-locations/task-storage.ts) is an exception of its own: one incident per location
// (subject `storage:<location id>`), belonging to the organization that owns the location and can
// fix it (its Exceptions recipients, or the nearest ones above it). Its members are the accounts
// whose repository there did not answer: it is mailed once per outage, however many backups fail
// meanwhile, and resolved with a mail when the last of them answers again (another account's
// repository that still answers does not resolve it).
// The backups that failed meanwhile still open their tasks' own incidents (job-events.ts).
import type { EntityManager } from '@mikro-orm/core';
import type { NotificationPayload } from './entities.ts';
import { incidentCleared, incidentFailed } from './incidents.ts';

export interface LocationRef {
  id: string;
  name: string;
  /** The owner of the location. */
  organizationId: string;
}

function eventOf(location: LocationRef, account: string, at: Date, payload: NotificationPayload) {
  return {
    organizationId: location.organizationId,
    subject: `storage:${location.id}`,
    member: account,
    at,
    payload,
  };
}

/** The location did not answer for `account`'s repository: opens its incident (one mail) unless one is open. */
export async function storageLocationFailed(
  em: EntityManager,
  location: LocationRef,
  account: string,
  reason: string,
  at: Date,
): Promise<void> {
  await em.fork().transactional((tx) =>
    incidentFailed(
      tx,
      eventOf(location, account, at, {
        event: 'storage_down',
        organizationName: '',
        items: [location.name],
        reason: reason.slice(0, 1000),
        linkPath: '/settings/storage',
        linkLabel: 'Open Settings › Storage',
      }),
    ),
  );
}

/** The location answered for `account`: resolves the incident, with a mail, when it was the last one failing. */
export async function storageLocationAnswered(
  em: EntityManager,
  location: LocationRef,
  account: string,
  at: Date,
): Promise<void> {
  await em.fork().transactional((tx) =>
    incidentCleared(
      tx,
      eventOf(location, account, at, {
        event: 'storage_up',
        organizationName: '',
        items: [location.name],
        linkPath: '/settings/storage',
        linkLabel: 'Open Settings › Storage',
      }),
    ),
  );
}
