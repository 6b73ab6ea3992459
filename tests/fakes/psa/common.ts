// What the Autotask and ConnectWise stand-ins share: a loopback HTTP server that reads JSON
// bodies, records each request, and can refuse everything with 401 (credentials revoked) until
// told otherwise.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PsaTicketRecord {
  id: number;
  companyId: number;
  title: string;
  description: string;
  status: string | number;
  fields: Record<string, unknown>;
  notes: { title?: string; text: string }[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
}

export interface PsaStandIn {
  url: string;
  companies: { id: number; name: string }[];
  tickets: PsaTicketRecord[];
  requests: RecordedRequest[];
  /** Every call answers 401 until `restoreCredentials()` (a secret rotated in the PSA). */
  revokeCredentials(): void;
  /** The next `method path` call is carried out, then its connection closed without an answer. */
  loseNextAnswer(method: string, path: string): void;
  restoreCredentials(): void;
  close(): Promise<void>;
}

export type Handler = (
  req: IncomingMessage,
  url: URL,
  body: unknown,
  answer: (status: number, body: unknown) => void,
) => void;

export interface JsonServer {
  url: string;
  requests: RecordedRequest[];
  loseNextAnswer(method: string, path: string): void;
  close(): Promise<void>;
}

export async function serveJson(handle: Handler): Promise<JsonServer> {
  const requests: RecordedRequest[] = [];
  const lose = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const answer = (status: number, body: unknown) => {
        requests.push({ method: req.method ?? '', path: url.pathname, status });
        const call = `${req.method} ${url.pathname}`;
        if (lose.delete(call)) {
          res.socket?.destroy();
          return;
        }
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      if (text) {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
          return answer(415, { message: 'Content-Type must be application/json' });
        }
        try {
          body = JSON.parse(text);
        } catch {
          return answer(400, { message: 'The body is not JSON' });
        }
      }
      handle(req, url, body, answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    loseNextAnswer: (method, path) => lose.add(`${method} ${path}`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
