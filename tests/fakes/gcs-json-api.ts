// A stand-in for the Google Cloud Storage JSON API on loopback, for the GCS sink's tests (no GCS
// emulator installs offline). It follows the public API as @google-cloud/storage uses it:
// - uploads: POST /upload/storage/v1/b/{bucket}/o with uploadType=media, multipart
//   (multipart/related: JSON metadata, then the bytes) or resumable (a session URI in `Location`,
//   then PUTs with `Content-Range: bytes a-b/total|*`, answered 308 with `Range` until the last);
// - GET /storage/v1/b/{bucket}/o/{object} (metadata; `alt=media` for the bytes, with `Range`);
// - GET /storage/v1/b/{bucket}/o (list: prefix, maxResults, pageToken/nextPageToken);
// - DELETE /storage/v1/b/{bucket}/o/{object};
// - preconditions ifGenerationMatch (0: only if absent) → 412; missing object or bucket → 404;
//   errors as {"error": {"code", "message", "errors": [{"reason"}]}}.
// - object retention (the upload's metadata `retention: {mode, retainUntilTime}`, reported back;
//   PATCH of an object's metadata moves it, a Locked one never earlier): DELETE and overwrite of an
//   object whose retention has not passed answer 403 retentionPolicyNotMet, on the fake's clock
//   (`now`, which tests move forward);
// An object appears only when its upload completes. `failNext` makes the next requests answer 503
// (a retry test); `requireToken` answers 401 to requests without that bearer token.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Retention {
  mode: string;
  retainUntilTime: string;
}

interface StoredObject {
  data: Buffer;
  generation: number;
  updated: Date;
  retention?: Retention | undefined;
}

interface Session {
  bucket: string;
  name: string;
  ifGenerationMatch: string | undefined;
  retention: Retention | undefined;
  chunks: Buffer[];
  received: number;
}

export interface FakeGcsOptions {
  buckets: string[];
  requireToken?: string;
}

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export class FakeGcs {
  readonly buckets = new Map<string, Map<string, StoredObject>>();
  readonly requests: Record<string, number> = {};
  readonly #sessions = new Map<string, Session>();
  readonly #server: Server;
  readonly #token: string | undefined;
  #generation = 1000;
  #failures = 0;
  endpoint = '';
  /** The store's clock for retention (ms since the epoch); undefined: the real one. */
  now: number | undefined;

  constructor(options: FakeGcsOptions) {
    for (const b of options.buckets) this.buckets.set(b, new Map());
    this.#token = options.requireToken;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, 'backendError', (err as Error).message);
        if (!res.headersSent)
          sendJson(res, e.status, {
            error: { code: e.status, message: e.message, errors: [{ reason: e.reason, message: e.message }] },
          });
        else res.destroy();
      });
    });
    this.#server.keepAliveTimeout = 1000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The next `count` requests answer 503 backendError. */
  failNext(count: number): void {
    this.#failures = count;
  }

  #bucket(name: string): Map<string, StoredObject> {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
    return bucket;
  }

  #resource(bucket: string, name: string, o: StoredObject) {
    return {
      kind: 'storage#object',
      id: `${bucket}/${name}/${o.generation}`,
      name,
      bucket,
      generation: String(o.generation),
      metageneration: '1',
      contentType: 'application/octet-stream',
      size: String(o.data.length),
      md5Hash: createHash('md5').update(o.data).digest('base64'),
      timeCreated: o.updated.toISOString(),
      updated: o.updated.toISOString(),
      ...(o.retention ? { retention: o.retention } : {}),
    };
  }

  #retained(o: StoredObject | undefined): boolean {
    return Boolean(o?.retention && Date.parse(o.retention.retainUntilTime) > (this.now ?? Date.now()));
  }

  #refuseRetained(bucket: string, name: string): never {
    throw new HttpError(403, 'retentionPolicyNotMet', `Object '${bucket}/${name}' is subject to object retention.`);
  }

  #commit(
    bucket: string,
    name: string,
    data: Buffer,
    ifGenerationMatch: string | undefined,
    retention?: Retention | undefined,
  ) {
    const objects = this.#bucket(bucket);
    const existing = objects.get(name);
    if (this.#retained(existing)) this.#refuseRetained(bucket, name);
    if (ifGenerationMatch !== undefined) {
      const wanted = Number(ifGenerationMatch);
      if ((wanted === 0 && existing) || (wanted !== 0 && existing?.generation !== wanted)) {
        throw new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
      }
    }
    const stored = { data, generation: ++this.#generation, updated: new Date(), retention };
    objects.set(name, stored);
    return this.#resource(bucket, name, stored);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const q = url.searchParams;
    const op = `${req.method} ${url.pathname.startsWith('/upload') ? `upload:${q.get('uploadType') ?? ''}` : url.pathname.split('/').length > 6 ? 'object' : 'list'}`;
    this.requests[op] = (this.requests[op] ?? 0) + 1;
    if (this.#token && req.headers.authorization !== `Bearer ${this.#token}`) {
      await drain(req);
      throw new HttpError(401, 'required', 'Anonymous caller does not have storage.objects access.');
    }
    if (this.#failures > 0) {
      this.#failures--;
      await drain(req);
      throw new HttpError(503, 'backendError', 'Backend Error');
    }
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload) return this.#upload(req, res, decodeURIComponent(upload[1] as string), q);
    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (object) {
      const bucket = decodeURIComponent(object[1] as string);
      const name = decodeURIComponent(object[2] as string);
      const objects = this.#bucket(bucket);
      const found = objects.get(name);
      if (req.method === 'DELETE') {
        if (!found) throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
        if (this.#retained(found)) this.#refuseRetained(bucket, name);
        objects.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (!found) throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
      if (req.method === 'PATCH') {
        const patch = JSON.parse((await readBody(req)).toString() || '{}') as { retention?: Retention };
        if (patch.retention) {
          const earlier =
            found.retention &&
            Date.parse(patch.retention.retainUntilTime) < Date.parse(found.retention.retainUntilTime);
          const unlockedOverride =
            found.retention?.mode === 'Unlocked' && q.get('overrideUnlockedRetention') === 'true';
          if (earlier && this.#retained(found) && !unlockedOverride) this.#refuseRetained(bucket, name);
          found.retention = patch.retention;
        }
        return sendJson(res, 200, this.#resource(bucket, name, found));
      }
      if (q.get('alt') !== 'media') return sendJson(res, 200, this.#resource(bucket, name, found));
      return sendMedia(req, res, found.data);
    }
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (list && req.method === 'GET') {
      const bucket = decodeURIComponent(list[1] as string);
      const prefix = q.get('prefix') ?? '';
      const max = Math.min(1000, Number(q.get('maxResults') ?? 1000));
      const after = q.get('pageToken') ? Buffer.from(q.get('pageToken') as string, 'base64url').toString() : '';
      const objects = this.#bucket(bucket);
      const names = [...objects.keys()].filter((n) => n.startsWith(prefix) && n > after).sort();
      const page = names.slice(0, max);
      return sendJson(res, 200, {
        kind: 'storage#objects',
        items: page.map((n) => this.#resource(bucket, n, objects.get(n) as StoredObject)),
        ...(names.length > max ? { nextPageToken: Buffer.from(page.at(-1) as string).toString('base64url') } : {}),
      });
    }
    throw new HttpError(404, 'notFound', `Not Found: ${req.method} ${url.pathname}`);
  }

  async #upload(req: IncomingMessage, res: ServerResponse, bucket: string, q: URLSearchParams): Promise<void> {
    this.#bucket(bucket);
    const type = q.get('uploadType');
    const ifGenerationMatch = q.get('ifGenerationMatch') ?? undefined;
    if (req.method === 'POST' && type === 'media') {
      const name = q.get('name');
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      return sendJson(res, 200, this.#commit(bucket, name, await readBody(req), ifGenerationMatch));
    }
    if (req.method === 'POST' && type === 'multipart') {
      const { metadata, data } = parseMultipartRelated(req.headers['content-type'] ?? '', await readBody(req));
      const name = q.get('name') ?? (metadata.name as string | undefined);
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      return sendJson(
        res,
        200,
        this.#commit(bucket, name, data, ifGenerationMatch, metadata.retention as Retention | undefined),
      );
    }
    if (req.method === 'POST' && type === 'resumable') {
      const body = await readBody(req);
      const metadata = body.length ? (JSON.parse(body.toString()) as { name?: string; retention?: Retention }) : {};
      const name = q.get('name') ?? metadata.name;
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      const id = randomUUID();
      this.#sessions.set(id, {
        bucket,
        name,
        ifGenerationMatch,
        retention: metadata.retention,
        chunks: [],
        received: 0,
      });
      res.writeHead(200, {
        Location: `${this.endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`,
      });
      res.end();
      return;
    }
    if (req.method === 'PUT' && q.get('upload_id')) return this.#resumableChunk(req, res, q.get('upload_id') as string);
    throw new HttpError(400, 'invalid', `unsupported upload ${req.method} ${type}`);
  }

  async #resumableChunk(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) throw new HttpError(404, 'notFound', 'No such upload session');
    const range = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(String(req.headers['content-range'] ?? 'bytes */*'));
    if (!range) throw new HttpError(400, 'invalid', 'Bad Content-Range');
    // Only a whole request body counts: an aborted request adds nothing.
    const body = await readBody(req);
    if (range[2] !== undefined) {
      const start = Number(range[2]);
      if (start > session.received) throw new HttpError(400, 'invalid', 'Content-Range starts past the received bytes');
      const skip = session.received - start;
      if (skip < body.length) {
        session.chunks.push(body.subarray(skip));
        session.received += body.length - skip;
      }
    }
    const total = range[4] === '*' ? undefined : Number(range[4]);
    if (total !== undefined && session.received === total) {
      this.#sessions.delete(id);
      const data = Buffer.concat(session.chunks);
      return sendJson(
        res,
        200,
        this.#commit(session.bucket, session.name, data, session.ifGenerationMatch, session.retention),
      );
    }
    res.writeHead(308, session.received > 0 ? { Range: `bytes=0-${session.received - 1}` } : {});
    res.end();
  }
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
    req.on('close', resolve);
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('aborted', () => reject(new HttpError(400, 'aborted', 'request aborted')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendMedia(req: IncomingMessage, res: ServerResponse, data: Buffer): void {
  const md5 = createHash('md5').update(data).digest('base64');
  const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
  if (!range) {
    res.writeHead(200, { 'Content-Length': data.length, 'x-goog-hash': `md5=${md5}` });
    res.end(data);
    return;
  }
  const start = Number(range[1]);
  const end = Math.min(range[2] ? Number(range[2]) : data.length - 1, data.length - 1);
  if (start >= data.length) {
    sendJson(res, 416, {
      error: {
        code: 416,
        message: 'The requested range cannot be satisfied.',
        errors: [{ reason: 'requestedRangeNotSatisfiable' }],
      },
    });
    return;
  }
  res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${data.length}` });
  res.end(data.subarray(start, end + 1));
}

/** multipart/related: a JSON metadata part, then the media part. */
function parseMultipartRelated(contentType: string, body: Buffer): { metadata: Record<string, unknown>; data: Buffer } {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new HttpError(400, 'invalid', 'multipart upload without a boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    parts.push(body.subarray(at + delimiter.length, next));
    at = next;
  }
  const content = (part: Buffer) => {
    const headerEnd = part.indexOf('\r\n\r\n');
    // Each part ends with the CRLF before the next delimiter.
    return part.subarray(headerEnd + 4, part.length - 2);
  };
  if (parts.length < 2) throw new HttpError(400, 'invalid', 'multipart upload needs metadata and media parts');
  return {
    metadata: JSON.parse(content(parts[0] as Buffer).toString() || '{}') as Record<string, unknown>,
    data: content(parts[1] as Buffer),
  };
}
