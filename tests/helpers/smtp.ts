// A real SMTP server on loopback (smtp-server) for mail tests: every message it accepts, decoded
// (subject, plain-text and HTML parts, attachments), and a switch that makes it refuse the next N messages
// with a temporary error, as a mail server that is down for a while does.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  attachments: ReceivedAttachment[];
}

export interface LoopbackSmtp {
  /** For HOLDFAST_SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /** Refuse the next `n` messages (451), then accept again. */
  refuseNext(n: number): void;
  /** How many messages were refused so far. */
  refusals(): number;
  close(): Promise<void>;
}

function decodeQuotedPrintable(text: string): string {
  const bytes = text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => `%${hex}`);
  // Escape the rest for decodeURIComponent, then decode the bytes as UTF-8.
  return decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/gi, '%25'));
}

function decodeWords(header: string): string {
  return header.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}

function split(raw: string): { headers: Record<string, string>; body: string } {
  const at = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, at).replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: raw.slice(at).replace(/^\r?\n\r?\n/, '') };
}

function decodeBody(headers: Record<string, string>, body: string): string {
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

export interface ReceivedAttachment {
  filename: string;
  contentType: string;
  content: string;
}

function partsOf(headers: Record<string, string>, body: string): { headers: Record<string, string>; body: string }[] {
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!boundary) return [{ headers, body }];
  // Nested multiparts (mixed > alternative + attachment) are walked down to their leaves.
  return body
    .split(`--${boundary}`)
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .map((p) => split(p.replace(/^\r?\n/, '')))
    .flatMap((p) => partsOf(p.headers, p.body));
}

/** The text and HTML parts of a message (a single part or multipart) and its attachments. */
export function parseMail(raw: string): {
  subject: string;
  text: string;
  html: string;
  attachments: ReceivedAttachment[];
} {
  const { headers, body } = split(raw);
  const subject = decodeWords(headers.subject ?? '');
  let text = '';
  let html = '';
  const attachments: ReceivedAttachment[] = [];
  for (const part of partsOf(headers, body)) {
    const partType = (part.headers['content-type'] ?? 'text/plain').toLowerCase();
    const disposition = part.headers['content-disposition'] ?? '';
    const decoded = decodeBody(part.headers, part.body);
    if (/^attachment/i.test(disposition)) {
      const filename = /filename="?([^";]+)"?/i.exec(disposition)?.[1] ?? '';
      attachments.push({ filename, contentType: partType, content: decoded });
    } else if (partType.startsWith('text/html')) html = decoded.replace(/\r\n/g, '\n');
    else if (partType.startsWith('text/plain')) text = decoded.replace(/\r\n/g, '\n');
  }
  return { subject, text, html, attachments };
}

export async function startLoopbackSmtp(): Promise<LoopbackSmtp> {
  const received: ReceivedMail[] = [];
  let refuse = 0;
  let refused = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onMailFrom(_address, _session, callback) {
      if (refuse > 0) {
        refuse--;
        refused++;
        return callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          ...parseMail(Buffer.concat(chunks).toString('utf8')),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuseNext(n) {
      refuse = n;
    },
    refusals: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
