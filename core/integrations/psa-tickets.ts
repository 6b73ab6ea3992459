// PSA tickets from the System Activity feed (the same cursor and sender as the SIEM kinds): a
// failed backup or a disconnected task opens a ticket for the account's company (its mapping,
// or the integration's default company; neither: no ticket), a later failure of the same task
// adds a note to the open ticket, and once every item that failed has backed up successfully the
// ticket is closed with a note (or noted and left open, as the integration says). The ticket of
// each account's task is remembered in `integration_tickets` with the last event acted on, so a
// batch sent again (after a refusal, or a restart between the PSA's answer and the cursor's move)
// acts on each event once; an opening or a note whose answer was lost is looked for in the PSA
// before it is made again. A task connected again (its credentials fixed) counts as a success of
// its connection, so it closes the "disconnected" ticket.
import type { EntityManager } from '@mikro-orm/core';
import type { IntegrationKind, SendTarget } from './contract.ts';
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
  if (event.action === 'Task reconnected' && event.status === 'succeeded') return { kind: 'success', item: CONNECTION };
  if (event.action !== 'Backup') return null;
  // A run without an item of its own (the whole task) is named by the task: "" is the connection.
  const item = String(event.details.item || event.details.taskName || 'the task');
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

/** Events of one account's task with the same outcome, one after another in the feed. */
interface Run {
  kind: 'failure' | 'success';
  events: { event: IntegrationEvent; item: string; n: number }[];
}

/** At most this many events are written out in one note; the rest are counted. */
const NOTE_EVENTS = 10;

function runText(run: Run, skip = 0): string {
  const shown = run.events.slice(skip, skip + NOTE_EVENTS);
  const more = run.events.length - skip - shown.length;
  // The count first: a PSA cuts a long note at its own limit, from the end.
  return [
    ...(more > 0
      ? [`${shown.length + more} runs; the first ${shown.length} below, ${more} more in Holdfast’s System Activity.`]
      : []),
    ...shown.map((e) => eventText(e.event, e.item)),
  ].join('\n\n');
}

const itemsOf = (run: Run, skip = 0) => [...new Set(run.events.slice(skip).map((e) => e.item || 'connection'))];

/**
 * A note's marker, first in its text: the first event it reports. A batch sent again starts its
 * note at the same event (the row's last event did not move), so the marker finds the note.
 * Plain letters, digits and "-" only: both PSAs search for it as it is.
 */
const noteMarker = (n: number) => `Holdfast note activity-${n}`;

/** Adds a note once: a note whose answer was lost (its marker still pending) is looked for first. */
async function postNote(
  client: PsaClient,
  d: PsaDelivery,
  row: IIntegrationTicket,
  n: number,
  title: string,
  text: string,
) {
  const ticketId = row.ticketId as string;
  const marker = noteMarker(n);
  const lost = row.noting === marker && (await client.hasNote(ticketId, marker));
  if (!lost) {
    row.noting = marker;
    await d.em.flush();
    await client.addNote(ticketId, title, `${marker}\n\n${text}`);
  }
  row.noting = null;
}

async function save(d: PsaDelivery, row: IIntegrationTicket, n: number) {
  row.lastEventId = n;
  row.updatedAt = d.now;
  // Written after each PSA call: a refusal later in the batch does not repeat this one.
  await d.em.flush();
}

async function onFailures(client: PsaClient, d: PsaDelivery, row: IIntegrationTicket | null, run: Run) {
  const first = run.events[0] as Run['events'][number];
  let noted = 0;
  if (!row?.ticketId) {
    const companyId = await companyFor(d, first.event.organization.id);
    if (!companyId) return row; // not mapped and no default company: no ticket
    const title = ticketTitle(first.event, first.item);
    // An opening whose answer was lost (the ticket may exist): look for it before opening another.
    const lost = row?.openingSince ? await client.findOpenTicket(companyId, title) : null;
    if (!row) {
      row = d.em.create(IntegrationTicket, {
        integration: d.integrationId,
        account: first.event.organization.id,
        taskId: String(first.event.details.taskId),
        ticketId: null,
        companyId,
        failing: [],
        lastEventId: 0,
        openingSince: null,
        noting: null,
        openedAt: null,
        closedAt: null,
        updatedAt: d.now,
      });
    }
    if (!lost) {
      row.openingSince = d.now;
      await d.em.flush();
    }
    const ticketId =
      lost ?? (await client.openTicket({ companyId, title, description: eventText(first.event, first.item) }));
    Object.assign(row, {
      ticketId,
      companyId,
      failing: [first.item],
      openingSince: null,
      openedAt: d.now,
      closedAt: null,
    });
    await save(d, row, first.n);
    noted = 1;
  }
  if (run.events.length > noted) {
    // One note for the run, however many items failed in it.
    const items = itemsOf(run, noted);
    await postNote(
      client,
      d,
      row,
      (run.events[noted] as Run['events'][number]).n,
      `Failed again: ${items.slice(0, 5).join(', ')}${items.length > 5 ? ` (+${items.length - 5})` : ''}`,
      runText(run, noted),
    );
    row.failing = [...new Set([...row.failing, ...run.events.map((e) => e.item)])];
    await save(d, row, (run.events.at(-1) as Run['events'][number]).n);
  }
  return row;
}

async function onSuccesses(client: PsaClient, d: PsaDelivery, row: IIntegrationTicket, run: Run) {
  const last = (run.events.at(-1) as Run['events'][number]).n;
  const ticketId = row.ticketId;
  if (!ticketId) return save(d, row, last);
  const succeeded = new Set(run.events.map((e) => e.item));
  // A successful backup also shows the connection works again.
  row.failing = row.failing.filter((f) => !succeeded.has(f) && f !== CONNECTION);
  const text = runText(run);
  const first = (run.events[0] as Run['events'][number]).n;
  const again = succeeded.size === 1 && succeeded.has(CONNECTION) ? 'Task connected again' : 'Backup succeeded again';
  if (row.failing.length > 0) {
    const still = row.failing.map((f) => f || 'connection');
    await postNote(
      client,
      d,
      row,
      first,
      `Succeeded: ${itemsOf(run).slice(0, 5).join(', ')}`,
      `${text}\n\nStill failing: ${still.join(', ')}`,
    );
  } else if (d.closeOnSuccess) {
    await postNote(client, d, row, first, again, text);
    await client.closeTicket(ticketId);
    row.ticketId = null;
    row.closedAt = d.now;
  } else {
    await postNote(client, d, row, first, again, text);
    row.ticketId = null;
    row.closedAt = d.now;
  }
  return save(d, row, last);
}

/** The batch's ticket events per account and task, in order, cut into runs of one outcome. */
function runsByTask(events: IntegrationEvent[]): Map<string, Run[]> {
  const byTask = new Map<string, Run[]>();
  for (const event of events) {
    const outcome = ticketOutcome(event);
    if (!outcome) continue;
    const key = `${event.organization.id} ${String(event.details.taskId)}`;
    const runs = byTask.get(key) ?? [];
    byTask.set(key, runs);
    const entry = { event, item: outcome.item, n: eventNumber(event) };
    const last = runs.at(-1);
    if (last?.kind === outcome.kind) last.events.push(entry);
    else runs.push({ kind: outcome.kind, events: [entry] });
  }
  return byTask;
}

/**
 * Acts on each event of a batch once (throws the PSA's refusal; the cursor then stays). Within a
 * batch, a task's failures one after another are one note (a run of 500 failed mailboxes is one
 * ticket and one note, not 500), its successes one after another one note or the close.
 */
export async function deliverToPsa(client: PsaClient, d: PsaDelivery, events: IntegrationEvent[]): Promise<void> {
  for (const runs of runsByTask(events).values()) {
    const first = runs[0]?.events[0]?.event as IntegrationEvent;
    const key = { integration: d.integrationId, account: first.organization.id, taskId: String(first.details.taskId) };
    let row = await d.em.findOne(IntegrationTicket, key);
    for (const whole of runs) {
      // Events acted on before the batch was sent again are skipped.
      const run = { kind: whole.kind, events: whole.events.filter((e) => !row || e.n > row.lastEventId) };
      if (run.events.length === 0) continue;
      if (run.kind === 'failure') row = await onFailures(client, d, row, run);
      else if (row) await onSuccesses(client, d, row, run);
    }
  }
}

/** What every PSA kind does the same way: its client, the credentials check, ticket delivery. */
export function psaKindParts<S extends { defaultCompanyId?: string; closeOnSuccess: boolean }>(
  client: (target: SendTarget<S>) => PsaClient,
): Pick<IntegrationKind<S>, 'psa' | 'test' | 'send'> {
  return {
    psa: client,
    async test(target) {
      await client(target).companies('');
    },
    async send(target, events) {
      const delivery = {
        integrationId: target.integrationId,
        defaultCompanyId: target.settings.defaultCompanyId,
        closeOnSuccess: target.settings.closeOnSuccess,
        em: target.em,
        now: target.now,
      };
      await deliverToPsa(client(target), delivery, events);
      return { acknowledged: true };
    },
  };
}
