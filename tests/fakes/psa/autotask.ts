// An Autotask PSA REST API stand-in (ATServicesRest V1.0), the endpoints the connector calls, as
// Autotask documents them: `GET V1.0/zoneInformation?user=` answers the zone's API address (this
// server) for the known API user (500 with `errors` otherwise); every other call wants the
// headers `ApiIntegrationCode`, `UserName` and `Secret` (401 when missing or wrong);
// `POST V1.0/Companies/query` filters by the `filter` items it supports (`eq isActive`,
// `contains companyName`, `eq id`) and answers `{items, pageDetails}`; `POST V1.0/Tickets` wants
// companyID (an existing company), title, status, priority and queueID and answers `{itemId}`;
// `POST V1.0/Tickets/{id}/Notes` wants ticketID (the same id), title, description, noteType and
// publish; `POST V1.0/TicketNotes/query` filters by `eq ticketID` and `contains description`;
// `PATCH V1.0/Tickets` wants `id` and changes the fields given; `POST V1.0/Tickets/query`
// filters by `eq` / `noteq` of companyID, title and status. Invoices are made in Autotask from
// posted billing items (the API cannot create them): `POST V1.0/Invoices/query` filters by `eq` of
// companyID and orderNumber, `GET V1.0/Invoices/{id}` answers `{item}` with paidDate (a date
// only, null while unpaid) and isVoided.
import type { PsaStandIn, PsaTicketRecord } from './common.ts';
import { serveJson } from './common.ts';

export interface AutotaskInvoiceRecord {
  id: number;
  companyID: number;
  invoiceNumber: string;
  /** The Purchase Order Number given when the invoice was generated. */
  orderNumber: string | null;
  invoiceTotal: number;
  paidDate: string | null;
  isVoided: boolean;
}

export interface AutotaskStandIn extends PsaStandIn {
  /** Invoices generated in Autotask (the tests add them as the MSP would, and pay them). */
  invoices: AutotaskInvoiceRecord[];
  username: string;
  secret: string;
  integrationCode: string;
}

const ERR = (...errors: string[]) => ({ errors });

export async function startAutotask(
  options: { username?: string; secret?: string; integrationCode?: string } = {},
): Promise<AutotaskStandIn> {
  const username = options.username ?? 'holdfast-api@msp.example';
  const secret = options.secret ?? 'autotask-secret-1';
  const integrationCode = options.integrationCode ?? 'HOLDFASTTRACKINGID';
  let revoked = false;
  const companies = [
    { id: 0, name: 'MSP One (own company)', active: true },
    { id: 174, name: 'Northwind Traders', active: true },
    { id: 175, name: 'Northwind Labs', active: false },
    { id: 176, name: 'Contoso Ltd', active: true },
  ];
  const tickets: PsaTicketRecord[] = [];
  const invoices: AutotaskInvoiceRecord[] = [];
  let nextId = 9000;
  let base = '';

  const server = await serveJson((req, url, body, answer) => {
    const path = url.pathname.replace(/^\/ATServicesRest/i, '');
    if (req.method === 'GET' && /^\/V1\.0\/zoneInformation$/i.test(path)) {
      if (url.searchParams.get('user') !== username)
        return answer(500, ERR('Zone information could not be determined'));
      return answer(200, { zoneName: 'Loopback', url: `${base}/ATServicesRest/`, webUrl: `${base}/`, ci: 1 });
    }
    const h = req.headers;
    if (revoked || h.username !== username || h.secret !== secret || h.apiintegrationcode !== integrationCode) {
      return answer(401, { message: 'Authorization has been denied for this request.' });
    }
    const b = (body ?? {}) as Record<string, unknown>;
    if (req.method === 'POST' && path === '/V1.0/Companies/query') {
      const filter = Array.isArray(b.filter) ? (b.filter as Record<string, unknown>[]) : null;
      if (!filter || filter.length === 0) return answer(500, ERR('Filter is required'));
      let items = companies;
      for (const f of filter) {
        if (f.op === 'eq' && f.field === 'isActive') items = items.filter((c) => c.active === f.value);
        else if (f.op === 'eq' && f.field === 'id') items = items.filter((c) => c.id === f.value);
        else if (f.op === 'contains' && f.field === 'companyName') {
          const v = String(f.value).toLowerCase();
          items = items.filter((c) => c.name.toLowerCase().includes(v));
        } else return answer(500, ERR(`Unsupported filter ${JSON.stringify(f)}`));
      }
      const max = typeof b.MaxRecords === 'number' ? b.MaxRecords : 500;
      return answer(200, {
        items: items.slice(0, max).map((c) => ({ id: c.id, companyName: c.name })),
        pageDetails: { count: Math.min(items.length, max), requestCount: max, prevPageUrl: null, nextPageUrl: null },
      });
    }
    if (req.method === 'POST' && path === '/V1.0/Tickets/query') {
      const filter = Array.isArray(b.filter) ? (b.filter as Record<string, unknown>[]) : null;
      if (!filter || filter.length === 0) return answer(500, ERR('Filter is required'));
      let items = tickets;
      for (const f of filter) {
        const field = (
          { companyID: 'companyId', title: 'title', status: 'status' } as Record<string, keyof PsaTicketRecord>
        )[String(f.field)];
        if (!field || (f.op !== 'eq' && f.op !== 'noteq'))
          return answer(500, ERR(`Unsupported filter ${JSON.stringify(f)}`));
        items = items.filter((t) => (t[field] === f.value) === (f.op === 'eq'));
      }
      const max = typeof b.MaxRecords === 'number' ? b.MaxRecords : 500;
      return answer(200, {
        items: items.slice(0, max).map((t) => ({ id: t.id })),
        pageDetails: { count: Math.min(items.length, max) },
      });
    }
    if (req.method === 'POST' && path === '/V1.0/TicketNotes/query') {
      const filter = Array.isArray(b.filter) ? (b.filter as Record<string, unknown>[]) : null;
      if (!filter || filter.length === 0) return answer(500, ERR('Filter is required'));
      let items = tickets.flatMap((t) => t.notes.map((n, i) => ({ id: t.id * 1000 + i, ticketID: t.id, ...n })));
      for (const f of filter) {
        if (f.op === 'eq' && f.field === 'ticketID') items = items.filter((n) => n.ticketID === f.value);
        else if (f.op === 'contains' && f.field === 'description')
          items = items.filter((n) => n.text.toLowerCase().includes(String(f.value).toLowerCase()));
        else return answer(500, ERR(`Unsupported filter ${JSON.stringify(f)}`));
      }
      const max = typeof b.MaxRecords === 'number' ? b.MaxRecords : 500;
      return answer(200, {
        items: items.slice(0, max).map((n) => ({ id: n.id })),
        pageDetails: { count: Math.min(items.length, max) },
      });
    }
    if (req.method === 'POST' && path === '/V1.0/Invoices/query') {
      const filter = Array.isArray(b.filter) ? (b.filter as Record<string, unknown>[]) : null;
      if (!filter || filter.length === 0) return answer(500, ERR('Filter is required'));
      let items = invoices;
      for (const f of filter) {
        if (f.op === 'eq' && (f.field === 'companyID' || f.field === 'orderNumber' || f.field === 'id')) {
          const field = f.field as 'companyID' | 'orderNumber' | 'id';
          items = items.filter((i) => i[field] === f.value);
        } else if (f.field === 'dueDate') return answer(500, ERR('dueDate cannot be queried'));
        else return answer(500, ERR(`Unsupported filter ${JSON.stringify(f)}`));
      }
      const max = typeof b.MaxRecords === 'number' ? b.MaxRecords : 500;
      return answer(200, { items: items.slice(0, max), pageDetails: { count: Math.min(items.length, max) } });
    }
    const invoice = /^\/V1\.0\/Invoices\/(\d+)$/.exec(path);
    if (req.method === 'GET' && invoice) {
      const found = invoices.find((i) => i.id === Number(invoice[1]));
      return found ? answer(200, { item: found }) : answer(404, ERR('Invoice not found'));
    }
    if (req.method === 'POST' && path === '/V1.0/Tickets') {
      const missing = ['companyID', 'title', 'status', 'priority', 'queueID'].filter(
        (k) => b[k] === undefined || b[k] === '',
      );
      if (missing.length) return answer(500, ERR(...missing.map((k) => `${k} is required`)));
      if (!companies.some((c) => c.id === b.companyID))
        return answer(500, ERR(`companyID ${String(b.companyID)} does not exist`));
      if (String(b.title).length > 255) return answer(500, ERR('title is longer than 255 characters'));
      const ticket: PsaTicketRecord = {
        id: nextId++,
        companyId: Number(b.companyID),
        title: String(b.title),
        description: String(b.description ?? ''),
        status: Number(b.status),
        fields: b,
        notes: [],
      };
      tickets.push(ticket);
      return answer(200, { itemId: ticket.id });
    }
    const notes = /^\/V1\.0\/Tickets\/(\d+)\/Notes$/.exec(path);
    if (req.method === 'POST' && notes) {
      const ticket = tickets.find((t) => t.id === Number(notes[1]));
      if (!ticket) return answer(404, ERR('Ticket not found'));
      const missing = ['title', 'description', 'noteType', 'publish', 'ticketID'].filter((k) => b[k] === undefined);
      if (missing.length) return answer(500, ERR(...missing.map((k) => `${k} is required`)));
      if (b.ticketID !== ticket.id) return answer(500, ERR('ticketID does not match the parent'));
      ticket.notes.push({ title: String(b.title), text: String(b.description) });
      return answer(200, { itemId: nextId++ });
    }
    if (req.method === 'PATCH' && path === '/V1.0/Tickets') {
      const ticket = tickets.find((t) => t.id === b.id);
      if (!ticket) return answer(500, ERR('id is required and must name a ticket'));
      if (b.status !== undefined) ticket.status = Number(b.status);
      return answer(200, { itemId: ticket.id });
    }
    return answer(404, ERR(`No route ${req.method} ${path}`));
  });
  base = server.url;
  return {
    url: `${server.url}/ATServicesRest/`,
    username,
    secret,
    integrationCode,
    companies,
    tickets,
    invoices,
    requests: server.requests,
    loseNextAnswer: (method, path) => server.loseNextAnswer(method, `/ATServicesRest${path}`),
    revokeCredentials: () => {
      revoked = true;
    },
    restoreCredentials: () => {
      revoked = false;
    },
    close: server.close,
  };
}
