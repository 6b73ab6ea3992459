// PSA tickets from the System Activity feed (the same cursor and sender as the SIEM kinds): a
// failed backup or a disconnected task opens a ticket for the account's company (its mapping,
// or the integration's default company; neither: no ticket), a later failure of the same task
// adds a note to the open ticket, and once every item that failed has backed up successfully the
// ticket is closed with a note (or noted and left open, as the integration says). The ticket of
// each account's task is remembered in `integration_tickets` with the last event acted on, so a
// batch sent again (after a refusal, or a restart between the PSA's answer and the cursor's move)
// acts on each event once.
import type { EntityManager } from '@mikro-orm/core';
import { type IIntegrationTicket, IntegrationCompany, IntegrationTicket } from './entities.ts';
import type { IntegrationEvent } from './event-feed.ts';
import type { PsaClient } from './psa.ts';

export interface PsaDelivery {
  integrationId: string;
  defaultCompanyId: string | undefined;
  closeOnSuccess: boolean;
  em: EntityManager;
  now: Date;
}

/** The items failing since the ticket opened; "" stands for the task's connection. */
const CONNECTION = '';

type Outcome = { kind: 'failure' | 'success'; item: string };

/** What an event means for tickets: a failure, a success, or nothing. */
export function ticketOutcome(event: IntegrationEvent): Outcome | null {
  if (event.log !== 'activity' || typeof event.details.taskId !== 'string') return null;
  if (event.action === 'Task disconnected' && event.status === 'failed') return { kind: 'failure', item: CONNECTION };
  if (event.action !== 'Backup') return null;
  const item = String(event.details.item ?? '');
  if (event.status === 'failed') return { kind: 'failure', item };
  if (event.status === 'succeeded') return { kind: 'success', item };
  return null;
}

const eventNumber = (event: IntegrationEvent) => Number(event.id.slice('activity-'.length));

function taskLabel(event: IntegrationEvent) {
  return String(event.details.taskName ?? event.details.taskId);
}

/** "Backup failed: Northwind · Mailboxes · anna@northwind.example" (a PSA title). */
export function ticketTitle(event: IntegrationEvent, item: string): string {
  const account = event.organization.name;
  const title =
    item === CONNECTION
      ? `Task disconnected: ${account} · ${taskLabel(event)}`
      : `Backup failed: ${account} · ${taskLabel(event)} · ${item}`;
  return title.length > 250 ? `${title.slice(0, 249)}…` : title;
}

function eventText(event: IntegrationEvent, item: string): string {
  return [
    String(event.details.summary ?? event.action),
    '',
    `Account: ${event.organization.path.join(' / ') || event.organization.name}`,
    `Task: ${taskLabel(event)}${event.details.service ? ` (${String(event.details.service)})` : ''}`,
    ...(item ? [`Item: ${item}`] : []),
    `Time: ${event.time}`,
    `Holdfast event: ${event.id}`,
  ].join('\n');
}

async function companyFor(d: PsaDelivery, accountId: string): Promise<string | undefined> {
  const mapped = await d.em.findOne(IntegrationCompany, { integration: d.integrationId, account: accountId });
  return mapped?.companyId ?? d.defaultCompanyId;
}

async function onFailure(
  client: PsaClient,
  d: PsaDelivery,
  row: IIntegrationTicket | null,
  event: IntegrationEvent,
  item: string,
): Promise<IIntegrationTicket | null> {
  if (row?.ticketId) {
    await client.addNote(row.ticketId, `Failed again: ${item || 'connection'}`, eventText(event, item));
    if (!row.failing.includes(item)) row.failing = [...row.failing, item];
    return row;
  }
  const companyId = await companyFor(d, event.organization.id);
  if (!companyId) return row; // not mapped and no default company: no ticket
  const ticketId = await client.openTicket({
    companyId,
    title: ticketTitle(event, item),
    description: eventText(event, item),
  });
  const opened = { ticketId, companyId, failing: [item], openedAt: d.now, closedAt: null };
  if (row) return Object.assign(row, opened);
  return d.em.create(IntegrationTicket, {
    integration: d.integrationId,
    account: event.organization.id,
    taskId: String(event.details.taskId),
    lastEventId: 0,
    updatedAt: d.now,
    ...opened,
  });
}

async function onSuccess(
  client: PsaClient,
  d: PsaDelivery,
  row: IIntegrationTicket,
  event: IntegrationEvent,
  item: string,
) {
  const ticketId = row.ticketId;
  if (!ticketId) return;
  // A successful backup also shows the connection works again.
  row.failing = row.failing.filter((f) => f !== item && f !== CONNECTION);
  const text = eventText(event, item);
  if (row.failing.length > 0) {
    await client.addNote(ticketId, `Succeeded: ${item}`, `${text}\n\nStill failing: ${row.failing.join(', ')}`);
    return;
  }
  if (d.closeOnSuccess) await client.closeTicket(ticketId, 'Backup succeeded again', text);
  else await client.addNote(ticketId, 'Backup succeeded again', text);
  row.ticketId = null;
  row.closedAt = d.now;
}

/** Acts on each event of a batch once; throws the PSA's refusal (the cursor then stays). */
export async function deliverToPsa(client: PsaClient, d: PsaDelivery, events: IntegrationEvent[]): Promise<void> {
  for (const event of events) {
    const outcome = ticketOutcome(event);
    if (!outcome) continue;
    const n = eventNumber(event);
    const key = { integration: d.integrationId, account: event.organization.id, taskId: String(event.details.taskId) };
    let row = await d.em.findOne(IntegrationTicket, key);
    if (row && row.lastEventId >= n) continue; // acted on before the batch was sent again
    if (outcome.kind === 'failure') row = await onFailure(client, d, row, event, outcome.item);
    else if (row) await onSuccess(client, d, row, event, outcome.item);
    if (!row) continue;
    row.lastEventId = n;
    row.updatedAt = d.now;
    // Written after each PSA call: a refusal later in the batch does not repeat this one.
    await d.em.flush();
  }
}
