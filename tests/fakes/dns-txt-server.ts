// A DNS server on loopback (UDP) answering TXT questions from a table the test fills: what a
// domain's owner publishes to verify it for single sign-on. Other names answer NXDOMAIN.
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface DnsTxtServer {
  /** "127.0.0.1:<port>", as HOLDFAST_SSO_DNS_SERVERS takes it. */
  address: string;
  records: Map<string, string[]>;
  close(): Promise<void>;
}

/** The question's name and where the question section ends. */
function questionOf(packet: Buffer): { name: string; end: number; type: number } | null {
  let at = 12;
  const labels: string[] = [];
  while (at < packet.length) {
    const length = packet[at] as number;
    if (length === 0) break;
    labels.push(packet.subarray(at + 1, at + 1 + length).toString('ascii'));
    at += 1 + length;
  }
  if (at + 5 > packet.length) return null;
  return { name: labels.join('.').toLowerCase(), end: at + 5, type: packet.readUInt16BE(at + 1) };
}

function answerOf(query: Buffer, records: Map<string, string[]>): Buffer | null {
  const question = questionOf(query);
  if (!question) return null;
  const texts = question.type === 16 ? (records.get(question.name) ?? null) : null;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(texts ? 0x8180 : 0x8183, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(texts?.length ?? 0, 6);
  const answers = (texts ?? []).map((text) => {
    const data = Buffer.concat([Buffer.from([text.length]), Buffer.from(text, 'ascii')]);
    const head = Buffer.alloc(12);
    head.writeUInt16BE(0xc00c, 0);
    head.writeUInt16BE(16, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt32BE(60, 6);
    head.writeUInt16BE(data.length, 10);
    return Buffer.concat([head, data]);
  });
  return Buffer.concat([header, query.subarray(12, question.end), ...answers]);
}

export async function startDnsTxtServer(): Promise<DnsTxtServer> {
  const records = new Map<string, string[]>();
  const socket: Socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    const answer = answerOf(message, records);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(socket.address() as AddressInfo).port}`,
    records,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
