// An invoice as a PDF (pdfkit: maintained, pure JavaScript, writes text PDFs with the standard
// fonts, so no font files or browser are needed): issuer and account, number, dates, the lines,
// subtotal, tax and total — the same figures as the CSV (invoice-csv.ts). pdfkit (with its font
// and compression libraries ~6 MiB of heap) loads with the first invoice rendered, not with the
// server: most appliances never render one.
import type { IInvoice, IInvoiceLine, InvoiceParty } from './entities.ts';
import { formatMoney } from './money.ts';

export interface InvoiceDocument {
  invoice: IInvoice;
  lines: readonly IInvoiceLine[];
  issuer: InvoiceParty;
  account: InvoiceParty;
}

const day = (d: Date | null | undefined) => (d ? d.toISOString().slice(0, 10) : '—');

export function invoiceTitle(invoice: IInvoice): string {
  return invoice.number ? `Invoice ${invoice.number}` : `Draft invoice ${invoice.period}`;
}

export async function invoicePdf(doc: InvoiceDocument): Promise<Buffer> {
  const { default: PDFDocument } = await import('pdfkit');
  const { invoice } = doc;
  const pdf = new PDFDocument({ size: 'A4', margin: 50, info: { Title: invoiceTitle(invoice), Producer: 'Holdfast' } });
  const parts: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('data', (b: Buffer) => parts.push(b));
    pdf.on('end', () => resolve(Buffer.concat(parts)));
    pdf.on('error', reject);
  });
  const money = (cents: number) => formatMoney(cents, invoice.currency);
  pdf.font('Helvetica-Bold').fontSize(20).text(invoiceTitle(invoice));
  pdf.moveDown(0.5).font('Helvetica').fontSize(10);
  pdf.text(`Period: ${invoice.period}   Issued: ${day(invoice.issuedAt)}   Due: ${day(invoice.dueAt)}`);
  pdf.text(`Plan: ${invoice.planName}   Billable days: ${invoice.billableDays} of ${invoice.monthDays}`);
  pdf.moveDown();
  const top = pdf.y;
  const party = (label: string, p: InvoiceParty, x: number) => {
    pdf.font('Helvetica-Bold').text(label, x, top, { width: 230 });
    pdf.font('Helvetica').text(p.name, x, undefined, { width: 230 });
    if (p.address) pdf.text(p.address, x, undefined, { width: 230 });
    if (p.email) pdf.text(p.email, x, undefined, { width: 230 });
    if (p.taxId) pdf.text(`Tax id: ${p.taxId}`, x, undefined, { width: 230 });
  };
  party('From', doc.issuer, 50);
  const afterIssuer = pdf.y;
  party('Bill to', doc.account, 310);
  pdf.y = Math.max(afterIssuer, pdf.y) + 20;
  const columns = { description: 50, quantity: 340, amount: 430 };
  const row = (description: string, quantity: string, amount: string, bold = false) => {
    const y = pdf.y;
    pdf.font(bold ? 'Helvetica-Bold' : 'Helvetica');
    pdf.text(description, columns.description, y, { width: 280 });
    const after = pdf.y;
    pdf.text(quantity, columns.quantity, y, { width: 80, align: 'right' });
    pdf.text(amount, columns.amount, y, { width: 115, align: 'right' });
    pdf.y = Math.max(after, pdf.y) + 4;
  };
  row('Description', 'Quantity', 'Amount', true);
  pdf.moveTo(50, pdf.y).lineTo(545, pdf.y).stroke();
  pdf.y += 4;
  for (const line of doc.lines) row(line.description, line.quantity, money(line.amountCents));
  pdf.moveTo(50, pdf.y).lineTo(545, pdf.y).stroke();
  pdf.y += 4;
  row('Subtotal', '', money(invoice.subtotalCents));
  row(`Tax (${(invoice.taxRateBasisPoints / 100).toFixed(2)} %)`, '', money(invoice.taxCents));
  row('Total', '', money(invoice.totalCents), true);
  pdf.moveDown(2).font('Helvetica').fontSize(8);
  pdf.text('Amounts are rounded once per line to whole cents, halves up; tax is computed on the subtotal.', 50);
  pdf.end();
  return done;
}
