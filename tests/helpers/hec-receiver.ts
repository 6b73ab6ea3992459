// A Splunk HTTP Event Collector stand-in on loopback, following Splunk's HEC reference: it checks
// `Authorization: Splunk <token>` (401 code 2 without one, 403 code 4 for a wrong one), reads the
// body as concatenated JSON event objects (400 code 6 when one is not an object with `event`
// and a numeric `time`), and with indexer acknowledgment on wants `X-Splunk-Request-Channel`
// (400 code 10 without), answers an `ackId` per request and `/services/collector/ack`.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HecEvent {
  time: number;
  host?: string;
  source?: string;
  sourcetype?: string;
  index?: string;
  event: Record<string, unknown> & { id: string };
}

export interface HecReceiver {
  url: string;
  token: string;
  /** Every event accepted, in arrival order (duplicates included: the tests count them). */
  events: HecEvent[];
  requests: { headers: IncomingHttpHeaders; status: number }[];
  /** 503 ("server is busy") to everything until `up()`. */
  down(): void;
  up(): void;
  /** Indexer acknowledgment on: acks are answered `indexed` once `index()` is called. */
  ackMode(on: boolean): void;
  indexPending(): void;
  close(): Promise<void>;
}

/** Splits HEC's batch form: JSON objects one after another, with or without whitespace between. */
export function splitConcatenatedJson(body: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) out.push(JSON.parse(body.slice(start, i + 1)));
    } else if (depth === 0 && !/\s/.test(ch ?? '')) throw new Error(`unexpected ${ch} between events`);
  }
  if (depth !== 0) throw new Error('unterminated event');
  return out;
}

export async function startHecReceiver(token = 'hec-token-1234'): Promise<HecReceiver> {
  const events: HecEvent[] = [];
  const requests: HecReceiver['requests'] = [];
  let isDown = false;
  let acks = false;
  let nextAck = 0;
  const pending = new Map<number, HecEvent[]>();
  const indexed = new Set<number>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: Record<string, unknown>) => {
        requests.push({ headers: req.headers, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (isDown) return answer(503, { text: 'Server is busy', code: 9 });
      const auth = req.headers.authorization;
      if (!auth) return answer(401, { text: 'Token is required', code: 2 });
      if (auth !== `Splunk ${token}`) return answer(403, { text: 'Invalid token', code: 4 });
      const channel = req.headers['x-splunk-request-channel'];
      const url = new URL(req.url ?? '/', 'http://hec');
      const body = Buffer.concat(chunks).toString('utf8');
      if (url.pathname === '/services/collector/ack') {
        if (!acks) return answer(400, { text: 'ACK is disabled', code: 14 });
        const asked = (JSON.parse(body) as { acks: number[] }).acks;
        return answer(200, { acks: Object.fromEntries(asked.map((id) => [String(id), indexed.has(id)])) });
      }
      if (url.pathname !== '/services/collector/event') return answer(404, { text: 'Not found', code: 404 });
      if (acks && !channel) return answer(400, { text: 'Data channel is missing', code: 10 });
      let batch: HecEvent[];
      try {
        batch = splitConcatenatedJson(body) as HecEvent[];
      } catch {
        return answer(400, { text: 'Invalid data format', code: 6 });
      }
      const bad = batch.findIndex((e) => typeof e?.time !== 'number' || typeof e.event !== 'object' || !e.event);
      if (batch.length === 0 || bad >= 0) {
        return answer(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': Math.max(bad, 0) });
      }
      events.push(...batch);
      if (!acks) return answer(200, { text: 'Success', code: 0 });
      const ackId = nextAck++;
      pending.set(ackId, batch);
      return answer(200, { text: 'Success', code: 0, ackId });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/collector/event`,
    token,
    events,
    requests,
    down: () => {
      isDown = true;
    },
    up: () => {
      isDown = false;
    },
    ackMode: (on) => {
      acks = on;
    },
    indexPending: () => {
      for (const id of pending.keys()) indexed.add(id);
      pending.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
