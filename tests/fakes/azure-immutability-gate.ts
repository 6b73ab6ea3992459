// A loopback stand-in for Azure version-level immutability (WORM), in front of azurite. Azurite
// 3.36 does not implement it: Set Blob Immutability Policy answers 501 and the immutability headers
// of Put Blob are ignored (Azure/Azurite#2648). Every request is forwarded unchanged (azurite still
// checks the SharedKey signatures) except what immutability is about, answered as Azure does:
// - Put Blob / Put Block List with x-ms-immutability-policy-until-date and -mode lock the blob;
// - Get Blob / Get Blob Properties answer the policy's end and mode;
// - Set Blob Immutability Policy (PUT ?comp=immutabilityPolicies) moves it; a Locked policy is
//   never shortened (refused with 409);
// - Delete Blob and overwrites are refused while the policy holds (409 BlobImmutableDueToPolicy),
//   on the gate's clock, which tests move forward (`clock.now`).
// Not emulated: versions (the container keeps one blob per name) and legal holds.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BlobPolicy {
  mode: string;
  until: Date;
}

export interface ImmutabilityGate {
  readonly endpoint: string;
  readonly clock: { now: number | undefined };
  /** Policies by "account/container/blob". */
  readonly policies: Map<string, BlobPolicy>;
  readonly refused: string[];
  close(): Promise<void>;
}

const refuse = (res: ServerResponse) => {
  res.writeHead(409, { 'content-type': 'application/xml', 'x-ms-error-code': 'BlobImmutableDueToPolicy' });
  res.end(
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobImmutableDueToPolicy</Code><Message>This operation is not permitted as the blob is immutable due to a policy.</Message></Error>',
  );
};

export async function startImmutabilityGate(upstream: string): Promise<ImmutabilityGate> {
  const target = new URL(upstream);
  const clock: { now: number | undefined } = { now: undefined };
  const now = () => clock.now ?? Date.now();
  const policies = new Map<string, BlobPolicy>();
  const refused: string[] = [];

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    onAnswer?: (status: number, headers: Record<string, string>) => void,
  ) => {
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const headers: Record<string, string> = {};
        onAnswer?.(answer.statusCode ?? 500, headers);
        res.writeHead(answer.statusCode ?? 500, { ...answer.headers, ...headers });
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gate');
    const name = decodeURIComponent(url.pathname.slice(1)); // account/container/blob
    const isBlob = name.split('/').length > 2;
    const comp = url.searchParams.get('comp')?.toLowerCase() ?? null;
    const policy = policies.get(name);
    const locked = policy !== undefined && policy.until.getTime() > now();
    const asked = () => {
      const until = req.headers['x-ms-immutability-policy-until-date'] as string | undefined;
      const mode = req.headers['x-ms-immutability-policy-mode'] as string | undefined;
      return until && mode ? { mode, until: new Date(until) } : undefined;
    };
    if (!isBlob) return forward(req, res);

    if (req.method === 'PUT' && comp === 'immutabilitypolicies') {
      req.resume();
      const next = asked();
      if (!policy || !next) {
        res.writeHead(404, { 'x-ms-error-code': 'BlobNotFound' });
        return res.end();
      }
      if (locked && policy.mode === 'Locked' && next.until.getTime() < policy.until.getTime()) {
        refused.push(`SHORTEN ${name}`);
        return refuse(res);
      }
      policies.set(name, next);
      res.writeHead(200, {
        'x-ms-immutability-policy-until-date': next.until.toUTCString(),
        'x-ms-immutability-policy-mode': next.mode.toLowerCase(),
      });
      return res.end();
    }
    if (req.method === 'PUT' && (comp === null || comp === 'blocklist')) {
      if (locked) {
        req.resume();
        refused.push(`OVERWRITE ${name}`);
        return refuse(res);
      }
      const next = asked();
      return forward(req, res, (status) => {
        if (status !== 201) return;
        if (next) policies.set(name, next);
        else policies.delete(name);
      });
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && policy && comp === null) {
      return forward(req, res, (status, headers) => {
        if (status !== 200 && status !== 206) return;
        headers['x-ms-immutability-policy-until-date'] = policy.until.toUTCString();
        headers['x-ms-immutability-policy-mode'] = policy.mode.toLowerCase();
      });
    }
    if (req.method === 'DELETE' && policy) {
      if (locked) {
        req.resume();
        refused.push(`DELETE ${name}`);
        return refuse(res);
      }
      return forward(req, res, (status) => {
        if (status === 202) policies.delete(name);
      });
    }
    return forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    clock,
    policies,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
