// ConnectWise PSA (Manage) over its REST API (`<site>/v4_6_release/apis/3.0`): Basic
// authentication with `<company id>+<public key>:<private key>` and the integration's `clientId`
// header on every call. Companies by `GET company/companies?conditions=…`, tickets by
// `POST service/tickets`, notes by `POST service/tickets/{id}/notes` (looked for by `GET` with `text like`), closing by
// `PATCH service/tickets/{id}` (a JSON Patch of the status) after a note.
import { z } from 'zod';
import { type IntegrationKind, IntegrationSendError, type PsaInvoiceReader, type SendTarget } from './contract.ts';
import type { JsonAnswer } from './http-json.ts';
import { optionalPositiveInt, type PsaClient, positiveInt, psaCall, psaCommonFields, psaCommonSchema } from './psa.ts';
import { psaKindParts } from './psa-tickets.ts';

const required = (message: string, max = 200) =>
  z
    .string({ error: message })
    .trim()
    .min(1, { error: message })
    .max(max, { error: `Use at most ${max} characters.` });

export const connectwiseSettingsSchema = z
  .object({
    site: required('Enter the ConnectWise site’s address.', 2000).refine(
      (v) => URL.canParse(v.includes('://') ? v : `https://${v}`),
      { error: 'Enter the site’s address, such as https://api-na.myconnectwise.net.' },
    ),
    companyId: required('Enter the company id you sign in with.', 100),
    publicKey: required('Enter the API member’s public key.'),
    clientId: required('Enter the clientId of your integration (developer.connectwise.com).'),
    boardId: positiveInt('service board id'),
    priorityId: optionalPositiveInt('priority id'),
    newStatus: z
      .string()
      .trim()
      .max(100, { error: 'Use at most 100 characters.' })
      .optional()
      .transform((v) => v || 'New'),
    closedStatus: z
      .string()
      .trim()
      .max(100, { error: 'Use at most 100 characters.' })
      .optional()
      .transform((v) => v || 'Closed (resolved)'),
  })
  .extend(psaCommonSchema.shape);
export type ConnectwiseSettings = z.infer<typeof connectwiseSettingsSchema>;

const HINT = 'Check the company id, the API member’s keys and the clientId.';

function reasonOf(answer: JsonAnswer): string {
  const message = answer.json?.message;
  const errors = Array.isArray(answer.json?.errors)
    ? (answer.json.errors as Record<string, unknown>[]).map((e) => String(e.message ?? '')).filter(Boolean)
    : [];
  return [typeof message === 'string' ? message : answer.text.trim(), ...errors].join(' ').slice(0, 300);
}

/**
 * The ticket's summary: ConnectWise holds 100 characters, and its conditions quote strings with
 * `"`, so the summary has none (it can then be searched for exactly).
 */
function summaryOf(title: string): string {
  const plain = title.replace(/["\\]/g, "'");
  return plain.length > 100 ? `${plain.slice(0, 99)}…` : plain;
}

/** The REST API's root on the site the settings name. */
function apiRoot(site: string): string {
  const url = new URL(site.includes('://') ? site : `https://${site}`);
  return `${url.origin}/v4_6_release/apis/3.0/`;
}

/**
 * Finance › Invoices: the invoice whose `reference` is the appliance's number, for the company;
 * paid when its `balance` (total less applied payments and credits) is nothing.
 */
function invoiceReader(target: SendTarget<ConnectwiseSettings>): PsaInvoiceReader {
  const s = target.settings;
  const basic = Buffer.from(`${s.companyId}+${s.publicKey}:${target.secret}`).toString('base64');
  const headers = { authorization: `Basic ${basic}`, clientId: s.clientId };
  const root = apiRoot(s.site);
  const get = (url: URL) => psaCall('ConnectWise', HINT, 'GET', url, headers, undefined, target.allowPrivate, reasonOf);
  return {
    async findInvoice(companyId, reference) {
      const url = new URL('finance/invoices', root);
      // Invoice numbers are letters, digits and dashes: nothing to escape in the quoted condition.
      url.searchParams.set(
        'conditions',
        `company/id=${Number(companyId)} and reference="${reference.replace(/["\\]/g, '')}"`,
      );
      url.searchParams.set('pageSize', '1');
      url.searchParams.set('fields', 'id');
      const [found] = itemsOf(await get(url));
      return found?.id === undefined ? null : String(found.id);
    },
    async isPaid(id) {
      const url = new URL(`finance/invoices/${encodeURIComponent(id)}`, root);
      url.searchParams.set('fields', 'id,total,balance');
      const invoice = await get(url);
      return typeof invoice.balance === 'number' && invoice.balance <= 0;
    },
  };
}

const itemsOf = (answer: Record<string, unknown>) =>
  Array.isArray(answer.items) ? (answer.items as Record<string, unknown>[]) : [];

function client(target: SendTarget<ConnectwiseSettings>): PsaClient {
  const s = target.settings;
  const basic = Buffer.from(`${s.companyId}+${s.publicKey}:${target.secret}`).toString('base64');
  const headers = { authorization: `Basic ${basic}`, clientId: s.clientId };
  const root = apiRoot(s.site);
  const call = (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) =>
    psaCall('ConnectWise', HINT, method, new URL(path, root), headers, body, target.allowPrivate, reasonOf);
  const note = (ticketId: string, title: string, text: string) =>
    call('POST', `service/tickets/${encodeURIComponent(ticketId)}/notes`, {
      text: `${title}\n\n${text}`.slice(0, 8000),
      detailDescriptionFlag: true,
    });
  return {
    async companies(search) {
      // The conditions language quotes strings with " and treats % and _ as wildcards: left out of the search.
      const term = search.replace(/["\\%_]/g, '').trim();
      const url = new URL('company/companies', root);
      url.searchParams.set('conditions', term ? `deletedFlag=false and name like "%${term}%"` : 'deletedFlag=false');
      url.searchParams.set('orderBy', 'name asc');
      url.searchParams.set('pageSize', '25');
      url.searchParams.set('fields', 'id,name');
      const answer = await psaCall('ConnectWise', HINT, 'GET', url, headers, undefined, target.allowPrivate, reasonOf);
      const items = Array.isArray(answer.items) ? (answer.items as Record<string, unknown>[]) : [];
      return items.map((c) => ({ id: String(c.id), name: String(c.name ?? c.id) }));
    },
    async company(id) {
      const url = new URL('company/companies', root);
      url.searchParams.set('conditions', `id=${Number(id)} and deletedFlag=false`);
      url.searchParams.set('pageSize', '1');
      url.searchParams.set('fields', 'id,name');
      const answer = await psaCall('ConnectWise', HINT, 'GET', url, headers, undefined, target.allowPrivate, reasonOf);
      const [found] = Array.isArray(answer.items) ? (answer.items as Record<string, unknown>[]) : [];
      return found?.id === undefined ? null : { id: String(found.id), name: String(found.name ?? found.id) };
    },
    async openTicket(t) {
      const answer = await call('POST', 'service/tickets', {
        summary: summaryOf(t.title),
        initialDescription: t.description.slice(0, 8000),
        board: { id: s.boardId },
        company: { id: Number(t.companyId) },
        status: { name: s.newStatus },
        ...(s.priorityId ? { priority: { id: s.priorityId } } : {}),
      });
      if (answer.id === undefined) throw new IntegrationSendError('ConnectWise did not return the new ticket’s id.');
      return String(answer.id);
    },
    async findOpenTicket(companyId, title) {
      const url = new URL('service/tickets', root);
      const company = Number(companyId);
      url.searchParams.set(
        'conditions',
        `company/id=${company} and closedFlag=false and summary="${summaryOf(title)}"`,
      );
      url.searchParams.set('pageSize', '1');
      url.searchParams.set('fields', 'id');
      const answer = await psaCall('ConnectWise', HINT, 'GET', url, headers, undefined, target.allowPrivate, reasonOf);
      const [found] = Array.isArray(answer.items) ? (answer.items as Record<string, unknown>[]) : [];
      return found?.id === undefined ? null : String(found.id);
    },
    async addNote(ticketId, title, text) {
      await note(ticketId, title, text);
    },
    async hasNote(ticketId, marker) {
      // The marker holds no quote, % or _ (psa-tickets.ts), so it is searched for as it is.
      const url = new URL(`service/tickets/${encodeURIComponent(ticketId)}/notes`, root);
      url.searchParams.set('conditions', `text like "%${marker}%"`);
      url.searchParams.set('pageSize', '1');
      url.searchParams.set('fields', 'id');
      const answer = await psaCall('ConnectWise', HINT, 'GET', url, headers, undefined, target.allowPrivate, reasonOf);
      return Array.isArray(answer.items) && answer.items.length > 0;
    },
    async closeTicket(ticketId) {
      await call('PATCH', `service/tickets/${encodeURIComponent(ticketId)}`, [
        { op: 'replace', path: 'status', value: { name: s.closedStatus } },
      ]);
    },
  };
}

export const connectwiseKind: IntegrationKind<ConnectwiseSettings> = {
  id: 'connectwise',
  label: 'ConnectWise',
  category: 'PSA',
  description:
    'Open a ConnectWise PSA (Manage) ticket for a failed backup, note repeated failures, close it on success.',
  fields: [
    { name: 'site', label: 'Site', type: 'url', placeholder: 'https://api-na.myconnectwise.net' },
    { name: 'companyId', label: 'Company id', type: 'text', hint: 'The company you sign in to ConnectWise with.' },
    {
      name: 'publicKey',
      label: 'Public key',
      type: 'text',
      hint: 'Of an API member (System › Members › API Members).',
    },
    {
      name: 'clientId',
      label: 'clientId',
      type: 'text',
      hint: 'Your integration’s clientId (developer.connectwise.com).',
    },
    { name: 'boardId', label: 'Service board id', type: 'text', placeholder: '1' },
    {
      name: 'priorityId',
      label: 'Priority id',
      type: 'text',
      optional: true,
      hint: 'Left empty: the board’s default.',
    },
    { name: 'newStatus', label: 'Status of a new ticket', type: 'text', optional: true, placeholder: 'New' },
    {
      name: 'closedStatus',
      label: 'Status of a closed ticket',
      type: 'text',
      optional: true,
      placeholder: 'Closed (resolved)',
    },
    ...psaCommonFields,
  ],
  secret: { name: 'privateKey', label: 'Private key' },
  fixedStreams: ['activity'],
  schema: connectwiseSettingsSchema as never,
  target: (s) => `${new URL(s.site.includes('://') ? s.site : `https://${s.site}`).host} (board ${s.boardId})`,
  address: (s) => ({ field: 'site', url: s.site.includes('://') ? s.site : `https://${s.site}` }),
  ...psaKindParts(client),
  invoices: invoiceReader,
  invoicesHelp:
    'Invoices: record each invoice this organization issues in ConnectWise (Finance › Invoices, for the customer’s mapped company) with the appliance’s invoice number as its Reference. Every hour the open ones are looked up and marked paid here once their balance in ConnectWise is nothing. The appliance does not create the invoices in ConnectWise: their lines there are ConnectWise’s own products and time entries, which this integration does not manage.',
};
