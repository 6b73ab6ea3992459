// A loopback stand-in for S3 Object Lock, in front of s3rver (which ignores Object Lock: it
// accepts the headers and enforces nothing). Every request is forwarded unchanged (so s3rver still
// checks the SDK's signatures) except what Object Lock is about, which the gate answers as S3 does:
// - PutObject / CreateMultipartUpload with x-amz-object-lock-mode and -retain-until-date lock the
//   object (from the completed upload, for multipart); a lock needs Content-MD5 or an
//   x-amz-checksum-* header, as on S3; the object gets a version id (x-amz-version-id);
// - HeadObject / GetObject answer the lock's mode and end, and the version id;
// - PutObjectRetention (PUT ?retention) moves a lock later; a shorter one is refused (403);
// - DeleteObject with the locked version's id is refused while the lock holds (403 AccessDenied),
//   on the gate's clock, which tests move forward (`clock.now`).
// Not emulated (the appliance relies on none of it): a bucket keeps one version per key here, so
// an overwrite of a locked object is refused (S3 would keep the locked version as an older one),
// and a delete without a version id of a locked object is refused with 400 (S3 would add a delete
// marker and keep the bytes); GOVERNANCE bypass headers are ignored.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ObjectLock {
  mode: string;
  until: Date;
  versionId: string;
}

export interface ObjectLockGate {
  readonly endpoint: string;
  /** The gate's clock (ms since the epoch), read at every request: tests move it forward. */
  readonly clock: { now: number | undefined };
  /** Locks by "bucket/key". */
  readonly locks: Map<string, ObjectLock>;
  /** What the gate refused, in order ("DELETE bucket/key", ...), for tests to assert. */
  readonly refused: string[];
  close(): Promise<void>;
}

const xmlError = (res: ServerResponse, status: number, code: string, message: string) => {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
};

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

const hasChecksum = (req: IncomingMessage) =>
  Boolean(req.headers['content-md5']) || Object.keys(req.headers).some((h) => h.startsWith('x-amz-checksum-'));

export async function startObjectLockGate(upstream: string): Promise<ObjectLockGate> {
  const target = new URL(upstream);
  const clock: { now: number | undefined } = { now: undefined };
  const now = () => clock.now ?? Date.now();
  const locks = new Map<string, ObjectLock>();
  /** Lock headers of multipart uploads under way, by "bucket/key". */
  const pending = new Map<string, { mode: string; until: Date }>();
  const refused: string[] = [];

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    body: string | undefined,
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
    if (body !== undefined) out.end(body);
    else req.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://gate');
      const name = decodeURIComponent(url.pathname.slice(1)); // path style: bucket/key
      const isObject = name.includes('/');
      const lock = locks.get(name);
      const locked = lock !== undefined && lock.until.getTime() > now();
      const q = url.searchParams;

      if (req.method === 'GET' && !isObject && q.has('object-lock')) {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>',
        );
        return;
      }
      if (!isObject) return forward(req, res, undefined);

      if (req.method === 'PUT' && q.has('retention')) {
        const xml = await bodyOf(req);
        if (!lock) return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
        if (!hasChecksum(req)) return xmlError(res, 400, 'InvalidRequest', 'Content-MD5 or a checksum is required');
        const mode = tag(xml, 'Mode');
        const until = new Date(tag(xml, 'RetainUntilDate') ?? '');
        if (!mode || Number.isNaN(until.getTime())) return xmlError(res, 400, 'MalformedXML', 'bad retention');
        if (locked && until.getTime() < lock.until.getTime()) {
          refused.push(`SHORTEN ${name}`);
          return xmlError(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
        }
        locks.set(name, { ...lock, mode, until });
        res.writeHead(200);
        res.end();
        return;
      }

      const lockHeaders = () => {
        const mode = req.headers['x-amz-object-lock-mode'] as string | undefined;
        const until = req.headers['x-amz-object-lock-retain-until-date'] as string | undefined;
        return mode && until ? { mode, until: new Date(until) } : undefined;
      };

      if (req.method === 'PUT' && !q.has('uploadId')) {
        if (locked) {
          refused.push(`OVERWRITE ${name}`);
          return xmlError(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
        }
        const asked = lockHeaders();
        if (asked && !hasChecksum(req))
          return xmlError(res, 400, 'InvalidRequest', 'Content-MD5 or a checksum is required for Object Lock');
        return forward(req, res, undefined, (status, headers) => {
          if (status !== 200) return;
          const versionId = randomUUID();
          if (asked) locks.set(name, { ...asked, versionId });
          else locks.delete(name);
          headers['x-amz-version-id'] = versionId;
        });
      }

      if (req.method === 'POST' && q.has('uploads')) {
        const asked = lockHeaders();
        if (asked) pending.set(name, asked);
        return forward(req, res, undefined);
      }
      if (req.method === 'POST' && q.has('uploadId')) {
        if (locked) {
          refused.push(`OVERWRITE ${name}`);
          return xmlError(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
        }
        return forward(req, res, undefined, (status, headers) => {
          if (status !== 200) return;
          const asked = pending.get(name);
          pending.delete(name);
          const versionId = randomUUID();
          if (asked) locks.set(name, { ...asked, versionId });
          headers['x-amz-version-id'] = versionId;
        });
      }

      if ((req.method === 'GET' || req.method === 'HEAD') && lock) {
        return forward(req, res, undefined, (status, headers) => {
          if (status !== 200 && status !== 206) return;
          headers['x-amz-version-id'] = lock.versionId;
          headers['x-amz-object-lock-mode'] = lock.mode;
          headers['x-amz-object-lock-retain-until-date'] = lock.until.toISOString();
        });
      }

      if (req.method === 'DELETE' && lock) {
        if (locked) {
          refused.push(`DELETE ${name}`);
          if (!q.has('versionId'))
            return xmlError(res, 400, 'InvalidRequest', 'this stand-in keeps no delete markers: give the versionId');
          return xmlError(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
        }
        return forward(req, res, undefined, (status) => {
          if (status === 204 || status === 200) locks.delete(name);
        });
      }
      return forward(req, res, undefined);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    clock,
    locks,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
