// A ConnectWise PSA (Manage) REST API stand-in (`/v4_6_release/apis/3.0`), the endpoints the
// connector calls, as ConnectWise documents them: every call wants
// `Authorization: Basic base64(<companyId>+<publicKey>:<privateKey>)` and a `clientId` header
// (401 / 403 otherwise); `GET company/companies` reads `conditions` (the forms
// `deletedFlag=false`, `id=` and `name like "%…%"` joined by `and`), `pageSize`, `orderBy=name asc` and
// answers an array; `POST service/tickets` wants summary (≤ 100 characters), board.id (a board
// it knows), company.id (an existing company) and answers the ticket with its `id`;
// `POST service/tickets/{id}/notes` wants text and one of the detail/internal/resolution flags,
// `GET service/tickets/{id}/notes` reads the condition `text like "%…%"`;
// `PATCH service/tickets/{id}` takes a JSON Patch array (`replace` of `status`);
// `GET service/tickets` reads the conditions `company/id=`, `summary="…"` and `closedFlag=false`
// (a ticket whose status starts with "Closed" is closed). Finance › Invoices:
// `GET finance/invoices` reads the conditions `company/id=` and `reference="…"` and answers an
// array; `GET finance/invoices/{id}` answers the invoice with `total`, `payments`, `credits` and
// `balance` (total less payments and credits); `POST finance/invoices/{id}/payments` wants
// `amount` and `paymentDate` and lowers the balance (how the tests pay an invoice, as a person
// applying a payment in ConnectWise would).
import type { PsaStandIn, PsaTicketRecord } from './common.ts';
import { serveJson } from './common.ts';

export interface ConnectwiseInvoiceRecord {
  id: number;
  invoiceNumber: string;
  type: string;
  company: { id: number };
  reference: string;
  total: number;
  payments: number;
  credits: number;
  balance: number;
}

export interface ConnectwiseStandIn extends PsaStandIn {
  /** Invoices in ConnectWise (the tests add them as the MSP records one). */
  invoices: ConnectwiseInvoiceRecord[];
  companyId: string;
  publicKey: string;
  privateKey: string;
  clientId: string;
  boardId: number;
}

const ROOT = '/v4_6_release/apis/3.0';
const error = (code: string, message: string) => ({ code, message, errors: null });

export async function startConnectwise(): Promise<ConnectwiseStandIn> {
  const companyId = 'mspone';
  const publicKey = 'pubKEY123';
  const privateKey = 'privKEY456';
  const clientId = '5b0cbd2e-1111-4a5e-9b1a-8a3f00a1c0de';
  const boardId = 1;
  let revoked = false;
  const companies = [
    { id: 2, name: 'MSP One', deleted: false },
    { id: 19, name: 'Northwind Traders', deleted: false },
    { id: 20, name: 'Northwind Old', deleted: true },
    { id: 21, name: 'Contoso Ltd', deleted: false },
  ];
  const tickets: PsaTicketRecord[] = [];
  const invoices: ConnectwiseInvoiceRecord[] = [];
  let nextId = 300;
  const expected = `Basic ${Buffer.from(`${companyId}+${publicKey}:${privateKey}`).toString('base64')}`;

  const server = await serveJson((req, url, body, answer) => {
    if (!url.pathname.startsWith(`${ROOT}/`)) return answer(404, error('NotFound', 'No such API'));
    const path = url.pathname.slice(ROOT.length);
    if (revoked || req.headers.authorization !== expected) {
      return answer(401, error('Unauthorized', 'Authentication failed.'));
    }
    if (req.headers.clientid !== clientId) {
      return answer(403, error('Forbidden', 'A valid clientId is required.'));
    }
    if (req.method === 'GET' && path === '/company/companies') {
      let items = companies;
      for (const part of (url.searchParams.get('conditions') ?? '').split(/\s+and\s+/i).filter(Boolean)) {
        const like = /^name like "%(.*)%"$/i.exec(part.trim());
        const id = /^id\s*=\s*(\d+)$/i.exec(part.trim());
        if (/^deletedFlag\s*=\s*false$/i.test(part.trim())) items = items.filter((c) => !c.deleted);
        else if (id) items = items.filter((c) => c.id === Number(id[1]));
        else if (like) items = items.filter((c) => c.name.toLowerCase().includes((like[1] ?? '').toLowerCase()));
        else return answer(400, error('InvalidObject', `Unsupported condition ${part}`));
      }
      if ((url.searchParams.get('orderBy') ?? '') === 'name asc')
        items = [...items].sort((a, b) => a.name.localeCompare(b.name));
      const size = Number(url.searchParams.get('pageSize') ?? 25);
      return answer(
        200,
        items.slice(0, size).map((c) => ({ id: c.id, name: c.name })),
      );
    }
    if (req.method === 'GET' && path === '/service/tickets') {
      let items = tickets;
      for (const part of (url.searchParams.get('conditions') ?? '').split(/\s+and\s+/i).filter(Boolean)) {
        const company = /^company\/id\s*=\s*(\d+)$/i.exec(part.trim());
        const summary = /^summary\s*=\s*"([^"]*)"$/i.exec(part.trim());
        if (company) items = items.filter((t) => t.companyId === Number(company[1]));
        else if (summary) items = items.filter((t) => t.title === summary[1]);
        else if (/^closedFlag\s*=\s*false$/i.test(part.trim()))
          items = items.filter((t) => !String(t.status).startsWith('Closed'));
        else return answer(400, error('InvalidObject', `Unsupported condition ${part}`));
      }
      const size = Number(url.searchParams.get('pageSize') ?? 25);
      return answer(
        200,
        items.slice(0, size).map((t) => ({ id: t.id })),
      );
    }
    if (req.method === 'GET' && path === '/finance/invoices') {
      let items = invoices;
      for (const part of (url.searchParams.get('conditions') ?? '').split(/\s+and\s+/i).filter(Boolean)) {
        const company = /^company\/id\s*=\s*(\d+)$/i.exec(part.trim());
        const reference = /^reference\s*=\s*"([^"]*)"$/i.exec(part.trim());
        if (company) items = items.filter((i) => i.company.id === Number(company[1]));
        else if (reference) items = items.filter((i) => i.reference === reference[1]);
        else return answer(400, error('InvalidObject', `Unsupported condition ${part}`));
      }
      const size = Number(url.searchParams.get('pageSize') ?? 25);
      return answer(200, items.slice(0, size));
    }
    const invoiceOne = /^\/finance\/invoices\/(\d+)$/.exec(path);
    if (req.method === 'GET' && invoiceOne) {
      const found = invoices.find((i) => i.id === Number(invoiceOne[1]));
      return found ? answer(200, found) : answer(404, error('NotFound', 'Invoice not found'));
    }
    const payments = /^\/finance\/invoices\/(\d+)\/payments$/.exec(path);
    if (req.method === 'POST' && payments) {
      const found = invoices.find((i) => i.id === Number(payments[1]));
      if (!found) return answer(404, error('NotFound', 'Invoice not found'));
      const p = body as { amount?: unknown; paymentDate?: unknown } | null;
      if (typeof p?.amount !== 'number' || !p.paymentDate) {
        return answer(400, error('InvalidObject', 'amount and paymentDate are required'));
      }
      found.payments += p.amount;
      found.balance = Math.round((found.total - found.payments - found.credits) * 100) / 100;
      return answer(201, { id: nextId++, invoice: { id: found.id }, amount: p.amount, paymentDate: p.paymentDate });
    }
    const noteList = /^\/service\/tickets\/(\d+)\/notes$/.exec(path);
    if (req.method === 'GET' && noteList) {
      const ticket = tickets.find((t) => t.id === Number(noteList[1]));
      if (!ticket) return answer(404, error('NotFound', 'Ticket not found'));
      let items = ticket.notes.map((n, i) => ({ id: ticket.id * 1000 + i, text: n.text }));
      for (const part of (url.searchParams.get('conditions') ?? '').split(/\s+and\s+/i).filter(Boolean)) {
        const like = /^text like "%(.*)%"$/i.exec(part.trim());
        if (!like) return answer(400, error('InvalidObject', `Unsupported condition ${part}`));
        items = items.filter((n) => n.text.toLowerCase().includes((like[1] ?? '').toLowerCase()));
      }
      const size = Number(url.searchParams.get('pageSize') ?? 25);
      return answer(
        200,
        items.slice(0, size).map((n) => ({ id: n.id })),
      );
    }
    const b = body as Record<string, unknown> | null;
    if (req.method === 'POST' && path === '/service/tickets') {
      const board = (b?.board as { id?: number } | undefined)?.id;
      const company = (b?.company as { id?: number } | undefined)?.id;
      const summary = String(b?.summary ?? '');
      if (!summary || summary.length > 100)
        return answer(400, error('InvalidObject', 'summary must be 1–100 characters'));
      if (board !== boardId) return answer(400, error('InvalidObject', 'board not found'));
      if (!companies.some((c) => c.id === company)) return answer(400, error('InvalidObject', 'company not found'));
      const ticket: PsaTicketRecord = {
        id: nextId++,
        companyId: Number(company),
        title: summary,
        description: String(b?.initialDescription ?? ''),
        status: String((b?.status as { name?: string } | undefined)?.name ?? 'New'),
        fields: b ?? {},
        notes: [],
      };
      tickets.push(ticket);
      return answer(201, {
        id: ticket.id,
        summary,
        board: { id: board },
        company: { id: company },
        status: { name: ticket.status },
      });
    }
    const notes = /^\/service\/tickets\/(\d+)\/notes$/.exec(path);
    if (req.method === 'POST' && notes) {
      const ticket = tickets.find((t) => t.id === Number(notes[1]));
      if (!ticket) return answer(404, error('NotFound', 'Ticket not found'));
      if (!b?.text) return answer(400, error('InvalidObject', 'text is required'));
      if (!b.detailDescriptionFlag && !b.internalAnalysisFlag && !b.resolutionFlag) {
        return answer(
          400,
          error('InvalidObject', 'One of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag is required'),
        );
      }
      ticket.notes.push({ text: String(b.text) });
      return answer(201, { id: nextId++, ticketId: ticket.id, text: b.text });
    }
    const one = /^\/service\/tickets\/(\d+)$/.exec(path);
    if (req.method === 'PATCH' && one) {
      const ticket = tickets.find((t) => t.id === Number(one[1]));
      if (!ticket) return answer(404, error('NotFound', 'Ticket not found'));
      if (!Array.isArray(body)) return answer(400, error('InvalidObject', 'A JSON Patch array is expected'));
      for (const op of body as { op: string; path: string; value: unknown }[]) {
        if (op.op !== 'replace' || op.path !== 'status')
          return answer(400, error('InvalidObject', `Unsupported patch ${op.path}`));
        ticket.status = String((op.value as { name?: string }).name);
      }
      return answer(200, { id: ticket.id, status: { name: ticket.status } });
    }
    return answer(404, error('NotFound', `No route ${req.method} ${path}`));
  });
  return {
    url: server.url,
    companyId,
    publicKey,
    privateKey,
    clientId,
    boardId,
    companies,
    tickets,
    invoices,
    requests: server.requests,
    loseNextAnswer: (method, path) => server.loseNextAnswer(method, `${ROOT}${path}`),
    revokeCredentials: () => {
      revoked = true;
    },
    restoreCredentials: () => {
      revoked = false;
    },
    close: server.close,
  };
}
