// Autotask PSA (Datto/Kaseya) over its REST API: the zone lookup
// (`GET ATServicesRest/V1.0/zoneInformation?user=<API user>`) names the zone's API address; every
// call carries the API user's `UserName`, `Secret` and the tracking identifier as
// `ApiIntegrationCode`. Companies by `POST Companies/query`, tickets by `POST Tickets`, notes by
// `POST Tickets/{id}/Notes` (looked for by `POST TicketNotes/query`), closing by `PATCH Tickets`
// with the "closed" status.
import { z } from 'zod';
import { type IntegrationKind, IntegrationSendError, type PsaInvoiceReader, type SendTarget } from './contract.ts';
import type { JsonAnswer } from './http-json.ts';
import { optionalPositiveInt, type PsaClient, positiveInt, psaCall, psaCommonFields, psaCommonSchema } from './psa.ts';
import { psaKindParts } from './psa-tickets.ts';

export const AUTOTASK_ZONE_LOOKUP = 'https://webservices.autotask.net/ATServicesRest/';

const required = (message: string, max = 200) =>
  z
    .string({ error: message })
    .trim()
    .min(1, { error: message })
    .max(max, { error: `Use at most ${max} characters.` });

export const autotaskSettingsSchema = z
  .object({
    username: required('Enter the API user’s user name.'),
    integrationCode: required('Enter the API tracking identifier (integration code).'),
    zoneLookupUrl: z
      .string()
      .trim()
      .max(2000, { error: 'Use at most 2000 characters.' })
      .optional()
      .transform((v) => v || AUTOTASK_ZONE_LOOKUP),
    queueId: positiveInt('queue id'),
    priority: optionalPositiveInt('priority', 2),
    newStatus: optionalPositiveInt('status of a new ticket', 1),
    closedStatus: optionalPositiveInt('status of a closed ticket', 5),
  })
  .extend(psaCommonSchema.shape);
export type AutotaskSettings = z.infer<typeof autotaskSettingsSchema>;

const HINT = 'Check the API user, its secret and the integration code.';

function reasonOf(answer: JsonAnswer): string {
  const errors = answer.json?.errors;
  if (Array.isArray(errors) && errors.length) return errors.map(String).join(' ').slice(0, 300);
  if (typeof answer.json?.message === 'string') return answer.json.message.slice(0, 300);
  return answer.text.trim().slice(0, 300);
}

/** One call to the API user's zone (looked up once per client). */
function caller(target: SendTarget<AutotaskSettings>) {
  const s = target.settings;
  const headers = { ApiIntegrationCode: s.integrationCode, UserName: s.username, Secret: target.secret };
  let zone: Promise<string> | null = null;
  const base = () => {
    zone ??= (async () => {
      const url = new URL(
        'V1.0/zoneInformation',
        s.zoneLookupUrl.endsWith('/') ? s.zoneLookupUrl : `${s.zoneLookupUrl}/`,
      );
      url.searchParams.set('user', s.username);
      const info = await psaCall('Autotask', HINT, 'GET', url, headers, undefined, target.allowPrivate, reasonOf);
      if (typeof info.url !== 'string') {
        throw new IntegrationSendError(`Autotask has no zone for the API user ${s.username}. ${HINT}`);
      }
      return info.url.endsWith('/') ? info.url : `${info.url}/`;
    })();
    return zone;
  };
  return async (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) =>
    psaCall('Autotask', HINT, method, new URL(path, await base()), headers, body, target.allowPrivate, reasonOf);
}

type Caller = ReturnType<typeof caller>;
type Condition = { op: string; field: string; value: unknown };

/** Autotask's query endpoint of an entity: the items matching every condition, at most `max`. */
async function query(
  call: Caller,
  entity: string,
  fields: string[],
  filter: Condition[],
  max: number,
): Promise<Record<string, unknown>[]> {
  const answer = await call('POST', `V1.0/${entity}/query`, { MaxRecords: max, IncludeFields: fields, filter });
  return Array.isArray(answer.items) ? (answer.items as Record<string, unknown>[]) : [];
}

/** The id of the first item a query finds, or null. */
async function firstId(call: Caller, entity: string, filter: Condition[]): Promise<string | null> {
  const [found] = await query(call, entity, ['id'], filter, 1);
  return found?.id === undefined ? null : String(found.id);
}

/**
 * Invoices (read-only in Autotask's API: made in Autotask from posted billing items): the
 * company's invoice whose Purchase Order Number (`orderNumber`) is the appliance's number; paid
 * when Autotask has a `paidDate` for it and it is not voided.
 */
function invoiceReader(target: SendTarget<AutotaskSettings>): PsaInvoiceReader {
  const call = caller(target);
  return {
    findInvoice: (companyId, reference) =>
      firstId(call, 'Invoices', [
        { op: 'eq', field: 'companyID', value: Number(companyId) },
        { op: 'eq', field: 'orderNumber', value: reference },
      ]),
    async isPaid(id) {
      const answer = await call('GET', `V1.0/Invoices/${encodeURIComponent(id)}`);
      const item = (answer.item ?? {}) as Record<string, unknown>;
      return Boolean(item.paidDate) && item.isVoided !== true;
    },
  };
}

function client(target: SendTarget<AutotaskSettings>): PsaClient {
  const s = target.settings;
  const call = caller(target);
  const note = (ticketId: string, title: string, text: string) =>
    call('POST', `V1.0/Tickets/${encodeURIComponent(ticketId)}/Notes`, {
      ticketID: Number(ticketId),
      title: title.slice(0, 250),
      description: text.slice(0, 3200),
      noteType: 1,
      publish: 1,
    });
  return {
    async companies(search) {
      const filter: Condition[] = [{ op: 'eq', field: 'isActive', value: true }];
      if (search.trim()) filter.push({ op: 'contains', field: 'companyName', value: search.trim() });
      const items = await query(call, 'Companies', ['id', 'companyName'], filter, 25);
      return items
        .map((c) => ({ id: String(c.id), name: String(c.companyName ?? c.id) }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    async company(id) {
      const [found] = await query(
        call,
        'Companies',
        ['id', 'companyName'],
        [
          { op: 'eq', field: 'id', value: Number(id) },
          { op: 'eq', field: 'isActive', value: true },
        ],
        1,
      );
      return found?.id === undefined ? null : { id: String(found.id), name: String(found.companyName ?? found.id) };
    },
    async openTicket(t) {
      const answer = await call('POST', 'V1.0/Tickets', {
        companyID: Number(t.companyId),
        title: t.title,
        description: t.description.slice(0, 8000),
        queueID: s.queueId,
        priority: s.priority,
        status: s.newStatus,
      });
      if (answer.itemId === undefined) throw new IntegrationSendError('Autotask did not return the new ticket’s id.');
      return String(answer.itemId);
    },
    findOpenTicket: (companyId, title) =>
      firstId(call, 'Tickets', [
        { op: 'eq', field: 'companyID', value: Number(companyId) },
        { op: 'eq', field: 'title', value: title },
        { op: 'noteq', field: 'status', value: s.closedStatus },
      ]),
    async addNote(ticketId, title, text) {
      await note(ticketId, title, text);
    },
    hasNote: async (ticketId, marker) =>
      (await firstId(call, 'TicketNotes', [
        { op: 'eq', field: 'ticketID', value: Number(ticketId) },
        { op: 'contains', field: 'description', value: marker },
      ])) !== null,
    async closeTicket(ticketId) {
      await call('PATCH', 'V1.0/Tickets', { id: Number(ticketId), status: s.closedStatus });
    },
  };
}

export const autotaskKind: IntegrationKind<AutotaskSettings> = {
  id: 'autotask',
  label: 'Autotask',
  category: 'PSA',
  description: 'Open an Autotask ticket for a failed backup, note repeated failures, close it on success.',
  fields: [
    { name: 'username', label: 'API user (user name)', type: 'text', placeholder: 'holdfast-api@msp.example' },
    {
      name: 'integrationCode',
      label: 'API tracking identifier (integration code)',
      type: 'text',
      hint: 'Admin › Resources › the API user › Security: the tracking identifier of a custom integration.',
    },
    { name: 'queueId', label: 'Queue id of new tickets', type: 'text', placeholder: '29682833' },
    {
      name: 'priority',
      label: 'Priority',
      type: 'text',
      optional: true,
      placeholder: '2',
      hint: '1 High, 2 Medium, 3 Low, 4 Critical (or your own).',
    },
    {
      name: 'newStatus',
      label: 'Status of a new ticket',
      type: 'text',
      optional: true,
      placeholder: '1',
      hint: '1 is New.',
    },
    {
      name: 'closedStatus',
      label: 'Status of a closed ticket',
      type: 'text',
      optional: true,
      placeholder: '5',
      hint: '5 is Complete.',
    },
    ...psaCommonFields,
    {
      name: 'zoneLookupUrl',
      label: 'Zone lookup address',
      type: 'url',
      optional: true,
      placeholder: AUTOTASK_ZONE_LOOKUP,
      hint: 'Left empty: Autotask’s. The API user’s zone is looked up there.',
    },
  ],
  secret: { name: 'secret', label: 'API user’s secret' },
  fixedStreams: ['activity'],
  schema: autotaskSettingsSchema as never,
  target: (s) => `${s.username} (queue ${s.queueId})`,
  address: (s) => ({ field: 'zoneLookupUrl', url: s.zoneLookupUrl }),
  ...psaKindParts(client),
  invoices: invoiceReader,
  invoicesHelp:
    'Invoices: Autotask’s API cannot create invoices (Autotask generates them from posted billing items), so generate each invoice this organization issues in Autotask for the customer’s mapped company, with the appliance’s invoice number as its Purchase Order Number. Every hour the open ones are looked up and marked paid here once Autotask has a paid date for them.',
};
