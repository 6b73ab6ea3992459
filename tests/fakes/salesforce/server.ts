// The Salesforce stand-in's HTTP server on loopback: one port is both the login host
// (/services/oauth2/authorize, /token, /revoke, /userinfo, the identity URL /id/<org>/<user>) and
// the instance (/services/data/vXX.X/…) every token's instance_url names. It answers the REST
// resources jsforce calls: describeGlobal, describe, query / queryAll with nextRecordsUrl paging
// (Sforce-Query-Options batchSize), getUpdated / getDeleted, limits, a record, and blob fields
// (ContentVersion VersionData), Bulk API 2.0 query jobs (CSV results paged by Sforce-Locator),
// ingest jobs (bulk-ingest.ts) and the Composite resource (composite.ts); describes answer
// If-Modified-Since (conditional.ts); record writes (sObject create/update/delete, sObject
// Collections) are writes.ts'.
// Every REST answer carries Sforce-Limit-Info: api-usage=N/M; past
// the org's daily budget calls are refused with REQUEST_LIMIT_EXCEEDED.
//
// Faults: `faults.serverErrorRate` / `throttleRate` / `queryTimeoutRate` answer that share of REST
// calls (seeded, so runs repeat) with a 500/503, a 403 REQUEST_LIMIT_EXCEEDED (concurrent
// requests) or a 400 QUERY_TIMEOUT; `failNext(kind, n)` fails the next n calls. Counters:
// `requests` per route ("query", "queryMore", "describe", "updated", "blob", …), `calls`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { automationHook } from './automation.ts';
import { BulkIngest } from './bulk-ingest.ts';
import { BusyClock } from './busy.ts';
import { runComposite, SUBREQUEST_HEADER } from './composite.ts';
import { notModified } from './conditional.ts';
import { DeployApi } from './deploy.ts';
import { MetadataApi, MetadataStore, soapFault } from './metadata.ts';
import { ApiError, type FieldDef, Org, type RecordValues, restError, type SObject, sfDateTime } from './model.ts';
import { OAuthServer, type Session as OAuthSession } from './oauth.ts';
import { checkFields, filtersOnId, matches, parseSoql, sortRecords } from './soql.ts';
import { isCreateable, isRequired, isUpdateable, writeRecords } from './writes.ts';

export const API_VERSION = '62.0';

export interface FakeSalesforceOptions {
  orgName?: string;
  clientId?: string;
  clientSecret?: string;
  /** PEM certificate of the connected app, for the JWT bearer flow. */
  certificate?: string;
  seed?: number;
}

export type FaultKind = 'server' | 'unavailable' | 'throttle' | 'timeout' | 'session';

function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

interface Cursor {
  object: SObject;
  records: RecordValues[];
  fields: string[];
  batch: number;
  org: Org;
}

interface BulkJob {
  id: string;
  org: Org;
  object: SObject;
  operation: string;
  fields: string[];
  records: RecordValues[];
  state: 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Aborted';
  checks: number;
  createdById: string;
  createdDate: string;
  version: string;
}

function jobInfo(job: BulkJob): Record<string, unknown> {
  return {
    id: job.id,
    operation: job.operation,
    object: job.object.name,
    createdById: job.createdById,
    createdDate: job.createdDate,
    systemModstamp: job.createdDate,
    state: job.state,
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.version),
    jobType: 'V2Query',
    lineEnding: 'LF',
    columnDelimiter: 'COMMA',
    ...(job.state === 'JobComplete'
      ? { numberRecordsProcessed: job.records.length, retries: 0, totalProcessingTime: 1 }
      : {}),
  };
}

/** A CSV value as Bulk API 2.0 writes it: null empty, quotes doubled, quoted when needed. */
function csvValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = String(v);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const DAY_MS = 24 * 3600 * 1000;

function faultError(kind: FaultKind): ApiError {
  switch (kind) {
    case 'server':
      return restError(
        500,
        'UNKNOWN_EXCEPTION',
        'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-8901 (-1234567890)',
      );
    case 'unavailable':
      return new ApiError(503, 'Service Unavailable', { 'Content-Type': 'text/plain' });
    case 'throttle':
      return restError(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.');
    case 'timeout':
      return restError(400, 'QUERY_TIMEOUT', 'Your query request was running for too long.');
    case 'session':
      return restError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
  }
}

export class FakeSalesforce {
  readonly orgs = new Map<string, Org>();
  /** The org tests start with. */
  readonly org: Org;
  readonly oauth: OAuthServer;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly faults = { serverErrorRate: 0, throttleRate: 0, queryTimeoutRate: 0 };
  /** Injected failures by kind. */
  readonly injected = new Map<FaultKind, number>();
  /** REST calls per route, OAuth calls as "oauth/<endpoint>". */
  readonly requests = new Map<string, number>();
  /** Added to every API call (REST, Bulk, SOAP): a real org's round trip, for the bench. */
  latencyMs = 0;
  /** Wall time with an API call open (the bench's "bound by the API" ratio). */
  readonly busy = new BusyClock();
  /** Default page size of query answers (Salesforce: 2000; Sforce-Query-Options batchSize 200–2000 lowers it). */
  pageSize = 2000;
  url = '';
  readonly #server: Server;
  readonly #random: () => number;
  readonly #failNext: FaultKind[] = [];
  readonly #routeFaults = new Map<string, { kind: FaultKind; remaining: number }>();
  readonly #cursors = new Map<string, Cursor>();
  #cursorSeq = 0;
  readonly #jobs = new Map<string, BulkJob>();
  #jobSeq = 0;
  /** Bulk API 2.0: status checks a query job answers InProgress before JobComplete. */
  bulkChecksInProgress = 0;
  /** Bulk API 2.0: rows per results page when the client gives no maxRecords. */
  bulkPageSize = 50_000;
  #approver: Org;
  readonly #metadata = new Map<Org, MetadataStore>();
  /** Bulk API 2.0 ingest jobs (bulk-ingest.ts); `ingest.checksInProgress` delays their completion. */
  readonly ingest = new BulkIngest();
  /** The Metadata API (SOAP); `metadataApi.retrieveChecksInProgress` delays retrieves. */
  readonly metadataApi = new MetadataApi();
  /** Metadata API deploys (deploy.ts): `deployApi.deploys`, `deployApi.hold()`. */
  readonly deployApi = new DeployApi();

  constructor(options: FakeSalesforceOptions = {}) {
    this.org = this.addOrg(options.orgName ?? 'Acme Corporation');
    this.clientId = options.clientId ?? '3MVG9stand.in.consumer.key';
    this.clientSecret = options.clientSecret ?? 'stand-in-consumer-secret';
    this.#random = mulberry32(options.seed ?? 1);
    this.#approver = this.org;
    this.oauth = new OAuthServer(
      () => this.#approver,
      () => this.url,
    );
    this.oauth.orgs = () => this.orgs.values();
    this.oauth.registerApp({
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      ...(options.certificate ? { certificate: options.certificate } : {}),
    });
    this.#server = createServer((req, res) => {
      this.busy.enter();
      res.on('close', () => this.busy.leave());
      this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
    });
    this.#server.keepAliveTimeout = 1000;
  }

  /** The org's metadata components (Apex classes, flows, profiles, …). */
  metadata(org: Org = this.org): MetadataStore {
    let store = this.#metadata.get(org);
    if (!store) {
      store = new MetadataStore(org);
      this.#metadata.set(org, store);
      // Active triggers, validation rules and flows act on every record write (automation.ts).
      org.beforeWrite = automationHook(store);
    }
    return store;
  }

  /** Which org the next browser approval connects (another org: re-authentication tests). */
  approveAs(org: Org): void {
    this.#approver = org;
  }

  addOrg(name: string): Org {
    const n = this.orgs.size + 1;
    const org = new Org(`00D${String(n).padStart(12, '0')}EAA`, name);
    this.orgs.set(org.id, org);
    return org;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.ingest.close();
  }

  // ---- test controls -------------------------------------------------------------------------

  failNext(kind: FaultKind, times = 1): void {
    for (let i = 0; i < times; i++) this.#failNext.push(kind);
  }

  /** The next `times` calls of one route ("blob", "queryMore", …) fail with `kind`. */
  failRoute(route: string, kind: FaultKind, times = 1): void {
    this.#routeFaults.set(route, { kind, remaining: times });
  }

  /** A refresh token of the default (or given) org as if its admin had connected the app. */
  grant(org: Org = this.org): { refreshToken: string; accessToken: string } {
    return this.oauth.grant(this.clientId, org);
  }

  count(route: string): number {
    return this.requests.get(route) ?? 0;
  }

  /** REST calls (what counts against the API budget), all routes; a composite's subrequests are not calls. */
  get calls(): number {
    let n = 0;
    for (const [route, count] of this.requests) {
      if (!route.startsWith('oauth/') && !route.startsWith('composite/')) n += count;
    }
    return n;
  }

  resetCounters(): void {
    this.requests.clear();
    this.injected.clear();
  }

  /** The hosts a JWT assertion's `aud` may name. */
  get loginHosts(): string[] {
    return [this.url, 'https://login.salesforce.com', 'https://test.salesforce.com'];
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  #fail(res: ServerResponse, err: unknown): void {
    const e =
      err instanceof ApiError
        ? err
        : restError(500, 'UNKNOWN_EXCEPTION', `An unexpected error occurred: ${(err as Error).message}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = typeof e.body === 'string';
    res.writeHead(e.status, {
      'Content-Type': text ? 'text/plain;charset=UTF-8' : 'application/json;charset=UTF-8',
      ...e.headers,
    });
    res.end(text ? e.body : JSON.stringify(e.body));
  }

  #count(route: string): void {
    this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    const body = await readBody(req);
    // A composite's subrequests: answered, but the composite call was the one counted and charged.
    const subrequest = req.headers[SUBREQUEST_HEADER] === '1';
    if (this.latencyMs > 0 && !subrequest && !path.startsWith('/services/oauth2/')) await sleep(this.latencyMs);
    if (path.startsWith('/services/oauth2/')) {
      const endpoint = path.slice('/services/oauth2/'.length);
      this.#count(`oauth/${endpoint}`);
      if (endpoint === 'authorize' && req.method === 'GET') {
        res.writeHead(302, { Location: this.oauth.authorize(url.searchParams) }).end();
        return;
      }
      if (endpoint === 'token' && req.method === 'POST') {
        const params = new URLSearchParams(body.toString());
        sendJson(res, 200, this.oauth.token(params, this.loginHosts));
        return;
      }
      if (endpoint === 'revoke') {
        const params = new URLSearchParams(body.toString() || url.search);
        this.oauth.revoke(params.get('token') ?? '');
        res.writeHead(200).end();
        return;
      }
      if (endpoint === 'userinfo' && req.method === 'GET') {
        const session = this.#session(req, url);
        sendJson(res, 200, this.#identity(session));
        return;
      }
      throw new ApiError(404, 'Not Found', { 'Content-Type': 'text/plain' });
    }
    const id = /^\/id\/(00D\w+)\/(005\w+)$/.exec(path);
    if (id && req.method === 'GET') {
      this.#count('oauth/id');
      const session = this.#session(req, url);
      if (session.org.id !== id[1] || session.userId !== id[2])
        throw new ApiError(403, 'Bad_Id', { 'Content-Type': 'text/plain' });
      sendJson(res, 200, this.#identity(session));
      return;
    }
    const soap = /^\/services\/Soap\/m\/(\d+\.\d)$/.exec(path);
    if (soap && req.method === 'POST') {
      await this.#soap(res, body.toString(), soap[1] as string);
      return;
    }
    if (path === '/services/data') {
      sendJson(res, 200, [{ label: "Winter '25", url: `/services/data/v${API_VERSION}`, version: API_VERSION }]);
      return;
    }
    const rest = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(path);
    if (!rest) throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
    const version = rest[1] as string;
    const resource = rest[2] ?? '';
    const session = this.#session(req, url);
    const org = session.org;
    const route = routeOf(resource);
    if (subrequest) {
      this.#count(`composite/${route}`);
      await this.#rest(req, res, url, org, session, version, resource, {}, body);
      return;
    }
    this.#count(route);
    // Every call counts against the daily budget; past it, Salesforce refuses (still counted in the header).
    if (org.api.used >= org.api.max) {
      throw new ApiError(
        403,
        [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }],
        this.#limitHeader(org),
      );
    }
    org.api.used++;
    const headers = this.#limitHeader(org);
    const fault = this.#routeFault(route) ?? this.#fault();
    if (fault) {
      this.injected.set(fault, (this.injected.get(fault) ?? 0) + 1);
      const e = faultError(fault);
      throw new ApiError(e.status, e.body, { ...e.headers, ...headers });
    }
    try {
      await this.#rest(req, res, url, org, session, version, resource, headers, body);
    } catch (err) {
      if (err instanceof ApiError) throw new ApiError(err.status, err.body, { ...err.headers, ...headers });
      throw err;
    }
  }

  /**
   * The Metadata API: the session from the SOAP header, the same budget (counted, refused past
   * it), faults as SOAP faults. Its answers carry no Sforce-Limit-Info (a REST header).
   */
  async #soap(res: ServerResponse, xml: string, version: string): Promise<void> {
    this.#count(`metadata/${MetadataApi.method(xml)}`);
    const token = /<sessionId>([^<]*)<\/sessionId>/.exec(xml)?.[1] ?? '';
    const session = this.oauth.session(token);
    if (!session) throw soapFault('INVALID_SESSION_ID', 'Invalid Session ID found in SessionHeader: Illegal Session');
    const org = session.org;
    if (org.api.used >= org.api.max) {
      throw soapFault('REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    }
    org.api.used++;
    const headers = { Date: org.now().toUTCString() };
    const fault = this.#fault();
    if (fault) {
      this.injected.set(fault, (this.injected.get(fault) ?? 0) + 1);
      const e =
        fault === 'session'
          ? soapFault('INVALID_SESSION_ID', 'Invalid Session ID found in SessionHeader: Illegal Session')
          : fault === 'unavailable'
            ? faultError(fault)
            : soapFault('UNKNOWN_EXCEPTION', 'An unexpected error occurred.');
      throw new ApiError(e.status, e.body, { ...e.headers, ...headers });
    }
    let answer: string;
    try {
      answer =
        (await this.deployApi.handle(MetadataApi.method(xml), xml, org, this.metadata(org))) ??
        (await this.metadataApi.handle(xml, org, this.metadata(org), version));
    } catch (err) {
      if (err instanceof ApiError) throw new ApiError(err.status, err.body, { ...err.headers, ...headers });
      throw err;
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/xml;charset=UTF-8',
      'Content-Length': String(Buffer.byteLength(answer)),
    });
    res.end(answer);
  }

  #limitHeader(org: Org): Record<string, string> {
    // Date: the org's clock (tests move it), which clients read as the server's time.
    return { 'Sforce-Limit-Info': `api-usage=${org.api.used}/${org.api.max}`, Date: org.now().toUTCString() };
  }

  #routeFault(route: string): FaultKind | undefined {
    const f = this.#routeFaults.get(route);
    if (!f || f.remaining <= 0) return undefined;
    f.remaining--;
    return f.kind;
  }

  #fault(): FaultKind | undefined {
    const next = this.#failNext.shift();
    if (next) return next;
    const r = this.#random();
    const { serverErrorRate, throttleRate, queryTimeoutRate } = this.faults;
    if (r < serverErrorRate) return this.#random() < 0.5 ? 'server' : 'unavailable';
    if (r < serverErrorRate + throttleRate) return 'throttle';
    if (r < serverErrorRate + throttleRate + queryTimeoutRate) return 'timeout';
    return undefined;
  }

  #session(req: IncomingMessage, url: URL): OAuthSession {
    const auth = req.headers.authorization ?? '';
    const token = /^(Bearer|OAuth) (.+)$/.exec(auth)?.[2] ?? url.searchParams.get('oauth_token') ?? '';
    const session = this.oauth.session(token);
    if (!session) throw restError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    return session;
  }

  #identity(session: OAuthSession): Record<string, unknown> {
    return {
      id: `${this.url}/id/${session.org.id}/${session.userId}`,
      user_id: session.userId,
      organization_id: session.org.id,
      username: session.username,
      display_name: 'Stand-in Admin',
      email: session.username,
      active: true,
      user_type: 'STANDARD',
      urls: { rest: `${this.url}/services/data/v{version}/` },
    };
  }

  async #rest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    org: Org,
    session: OAuthSession,
    version: string,
    resource: string,
    headers: Record<string, string>,
    body: Buffer,
  ): Promise<void> {
    const base = `/services/data/v${version}`;
    if (resource === '/jobs/ingest' || resource.startsWith('/jobs/ingest/')) {
      const answer = this.ingest.handle(
        req.method ?? 'GET',
        resource.slice('/jobs/ingest'.length),
        org,
        session.userId,
        version,
        body,
      );
      if (answer.csv !== undefined) {
        res.writeHead(answer.status, {
          ...headers,
          'Content-Type': 'text/csv',
          'Content-Length': String(Buffer.byteLength(answer.csv)),
        });
        res.end(answer.csv);
      } else if (answer.json !== undefined) sendJson(res, answer.status, answer.json, headers);
      else res.writeHead(answer.status, headers).end();
      return;
    }
    if (resource === '/jobs/query' || resource.startsWith('/jobs/query/')) {
      this.#bulkQuery(req, res, url, org, session, version, resource.slice('/jobs/query'.length), headers, body);
      return;
    }
    if (resource === '/composite' && req.method === 'POST') {
      sendJson(res, 200, await runComposite(this.url, req.headers.authorization ?? '', body), headers);
      return;
    }
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/')) this.#count('multipart');
    const written = writeRecords(req.method ?? 'GET', resource, url, org, body, type);
    if (written) {
      if (written.body === undefined) res.writeHead(written.status, headers).end();
      else sendJson(res, written.status, written.body, headers);
      return;
    }
    if (req.method !== 'GET')
      throw restError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${req.method}' not allowed. Allowed are GET`);
    if (resource === '') {
      sendJson(
        res,
        200,
        {
          identity: `${this.url}/id/${org.id}/${session.userId}`,
          sobjects: `${base}/sobjects`,
          query: `${base}/query`,
          limits: `${base}/limits`,
        },
        headers,
      );
      return;
    }
    if (resource === '/limits') {
      sendJson(res, 200, limitsBody(org), headers);
      return;
    }
    if (resource === '/sobjects') {
      if (notModified(req, org.describedAt)) {
        res.writeHead(304, headers).end();
        return;
      }
      sendJson(
        res,
        200,
        { encoding: 'UTF-8', maxBatchSize: 200, sobjects: [...org.objects.values()].map((o) => globalEntry(o, base)) },
        headers,
      );
      return;
    }
    if (resource === '/query' || resource === '/queryAll') {
      const soql = url.searchParams.get('q');
      if (!soql) throw restError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
      const batch = batchSize(req.headers['sforce-query-options'], this.pageSize);
      sendJson(res, 200, this.#query(org, soql, resource === '/queryAll', batch, base), headers);
      return;
    }
    const more = /^\/query\/(01g\w+)-(\d+)$/.exec(resource);
    if (more) {
      const cursor = this.#cursors.get(more[1] as string);
      if (!cursor || cursor.org !== org) throw restError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
      sendJson(res, 200, this.#page(more[1] as string, cursor, Number(more[2]), base), headers);
      return;
    }
    const so = /^\/sobjects\/(\w+)(?:\/(\w+)(?:\/(\w+))?)?$/.exec(resource);
    if (so) {
      const object = org.object(so[1] as string);
      if (!object) throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
      const [, , second, third] = so;
      if (second === 'describe' && !third) {
        if (notModified(req, object.describedAt)) {
          res.writeHead(304, headers).end();
          return;
        }
        sendJson(res, 200, describeBody(object, org, base), headers);
        return;
      }
      if ((second === 'updated' || second === 'deleted') && !third) {
        sendJson(res, 200, replication(org, object, second, url.searchParams), headers);
        return;
      }
      if (second && !third) {
        const rec = object.records.get(second);
        if (!rec || rec.deletedAt) throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
        sendJson(
          res,
          200,
          project(
            object,
            rec.values,
            object.fields.map((f) => f.name),
            base,
          ),
          headers,
        );
        return;
      }
      if (second && third) {
        const rec = object.records.get(second);
        const field = object.field(third);
        if (!rec || rec.deletedAt || field?.type !== 'base64')
          throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
        const bytes = org.blobs.get(second) ?? Buffer.alloc(0);
        res.writeHead(200, {
          ...headers,
          'Content-Type': 'application/octetstream',
          'Content-Length': String(bytes.length),
        });
        res.end(bytes);
        return;
      }
    }
    throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  /** Bulk API 2.0 query jobs: create, status, results by locator (CSV), abort, delete. */
  #bulkQuery(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    org: Org,
    session: OAuthSession,
    version: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer,
  ): void {
    if (path === '' && req.method === 'POST') {
      let input: { operation?: string; query?: string };
      try {
        input = JSON.parse(body.toString() || '{}');
      } catch {
        throw restError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON.');
      }
      if (input.operation !== 'query' && input.operation !== 'queryAll') {
        throw restError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${input.operation}`);
      }
      const q = parseSoql(input.query ?? '');
      const object = org.object(q.object);
      if (!object?.queryable)
        throw restError(400, 'INVALIDJOB', `InvalidJob : Entity '${q.object}' is not supported by the Bulk API.`);
      checkFields(q, object);
      if (q.count)
        throw restError(400, 'INVALIDJOB', 'InvalidJob : Aggregate queries are not supported by the Bulk API.');
      const all = input.operation === 'queryAll';
      const records = [...object.records.values()]
        .filter((r) => all || !r.deletedAt)
        .map((r) => r.values)
        .filter((v) => matches(q.where, v, object));
      sortRecords(records, q.orderBy, object);
      const job: BulkJob = {
        id: `750${org.id.slice(-5, -3)}${String(++this.#jobSeq).padStart(10, '0')}AAA`,
        org,
        object,
        operation: input.operation,
        fields: q.fields.map((f) => object.field(f)?.name as string),
        records: q.limit !== undefined ? records.slice(0, q.limit) : records,
        state: 'UploadComplete',
        checks: 0,
        createdById: session.userId,
        createdDate: sfDateTime(org.now()),
        version,
      };
      this.#jobs.set(job.id, job);
      sendJson(res, 200, jobInfo(job), headers);
      return;
    }
    const m = /^\/(750\w+)(\/results)?$/.exec(path);
    const job = m ? this.#jobs.get(m[1] as string) : undefined;
    if (!m || !job || job.org !== org) throw restError(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (m[2]) {
      if (req.method !== 'GET') throw restError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed.');
      if (job.state !== 'JobComplete') {
        throw restError(400, 'INVALIDJOBSTATE', `InvalidJobState : Query job ${job.id} is not complete.`);
      }
      const max = Number(url.searchParams.get('maxRecords') ?? this.bulkPageSize);
      const locator = url.searchParams.get('locator');
      const offset = locator ? Number.parseInt(Buffer.from(locator, 'base64url').toString(), 10) : 0;
      if (Number.isNaN(offset) || offset < 0 || offset > job.records.length) {
        throw restError(400, 'INVALIDLOCATOR', 'Invalid locator');
      }
      const slice = job.records.slice(offset, offset + max);
      const next = offset + max < job.records.length ? Buffer.from(String(offset + max)).toString('base64url') : 'null';
      // Datetimes as Bulk API 2.0 writes them (…T08:00:00.000Z, where REST answers …+0000).
      const cell = (r: RecordValues, f: string) => {
        const v = r[f] ?? null;
        const datetime = job.object.field(f)?.type === 'datetime' && typeof v === 'string';
        return csvValue(datetime ? v.replace(/\+0000$/, 'Z') : v);
      };
      const csv = [
        job.fields.map(csvValue).join(','),
        ...slice.map((r) => job.fields.map((f) => cell(r, f)).join(',')),
      ].join('\n');
      const text = `${csv}\n`;
      res.writeHead(200, {
        ...headers,
        'Content-Type': 'text/csv',
        'Sforce-Locator': next,
        'Sforce-NumberOfRecords': String(slice.length),
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
      return;
    }
    if (req.method === 'GET') {
      // Done after the configured number of "in progress" answers.
      if (job.state === 'UploadComplete' || job.state === 'InProgress') {
        job.state = job.checks++ < this.bulkChecksInProgress ? 'InProgress' : 'JobComplete';
      }
      sendJson(res, 200, jobInfo(job), headers);
      return;
    }
    if (req.method === 'PATCH') {
      job.state = 'Aborted';
      sendJson(res, 200, jobInfo(job), headers);
      return;
    }
    if (req.method === 'DELETE') {
      this.#jobs.delete(job.id);
      res.writeHead(204, headers).end();
      return;
    }
    throw restError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed.');
  }

  #query(org: Org, soql: string, all: boolean, batch: number, base: string): Record<string, unknown> {
    const q = parseSoql(soql);
    const object = org.object(q.object);
    if (!object?.queryable) {
      throw restError(
        400,
        'INVALID_TYPE',
        `\n${soql}\n^\nERROR at Row:1:Column:1\nsObject type '${q.object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`,
      );
    }
    checkFields(q, object);
    if (object.filterRequired && !filtersOnId(q.where, object)) {
      throw restError(
        400,
        'MALFORMED_QUERY',
        `Implementation restriction: ${object.name} requires a filter by a single Id on one of its id fields using the equals operator or multiple Id's using the IN operator.`,
      );
    }
    let records = [...object.records.values()]
      .filter((r) => all || !r.deletedAt)
      .map((r) => r.values)
      .filter((v) => matches(q.where, v, object));
    sortRecords(records, q.orderBy, object);
    if (q.limit !== undefined) records = records.slice(0, q.limit);
    if (q.count) return { totalSize: records.length, done: true, records: [] };
    const fields = q.fields.map((f) => object.field(f)?.name as string);
    const id = `01g${org.id.slice(3, 8)}${String(++this.#cursorSeq).padStart(8, '0')}`;
    const cursor: Cursor = { object, records, fields, batch, org };
    this.#cursors.set(id, cursor);
    return this.#page(id, cursor, 0, base);
  }

  #page(id: string, cursor: Cursor, offset: number, base: string): Record<string, unknown> {
    const slice = cursor.records.slice(offset, offset + cursor.batch);
    const next = offset + cursor.batch;
    const done = next >= cursor.records.length;
    if (done) this.#cursors.delete(id);
    return {
      totalSize: cursor.records.length,
      done,
      ...(done ? {} : { nextRecordsUrl: `${base}/query/${id}-${next}` }),
      records: slice.map((r) => project(cursor.object, r, cursor.fields, base)),
    };
  }
}

function routeOf(resource: string): string {
  if (resource === '') return 'resources';
  if (resource === '/composite') return 'composite';
  if (resource === '/sobjects') return 'describeGlobal';
  if (resource === '/query') return 'query';
  if (resource === '/queryAll') return 'queryAll';
  if (resource.startsWith('/query/')) return 'queryMore';
  if (resource === '/limits') return 'limits';
  if (resource === '/composite/sobjects') return 'collections';
  if (resource === '/jobs/query') return 'bulk/create';
  if (resource === '/jobs/ingest') return 'ingest/create';
  if (resource.startsWith('/jobs/ingest/')) return `ingest/${resource.split('/')[4] ?? 'job'}`;
  if (resource.startsWith('/jobs/query/')) return resource.endsWith('/results') ? 'bulk/results' : 'bulk/job';
  const parts = resource.split('/');
  if (parts[1] === 'sobjects') {
    if (parts[3] === 'describe' || parts[3] === 'updated' || parts[3] === 'deleted') return parts[3];
    if (parts.length === 5) return 'blob';
    if (parts.length === 4) return 'retrieve';
  }
  return resource;
}

function batchSize(header: string | string[] | undefined, fallback: number): number {
  const m = /batchSize=(\d+)/.exec(String(header ?? ''));
  if (!m) return fallback;
  return Math.max(200, Math.min(2000, Number(m[1])));
}

function project(object: SObject, values: RecordValues, fields: string[], base: string): Record<string, unknown> {
  const id = values.Id as string;
  const out: Record<string, unknown> = {
    attributes: { type: object.name, url: `${base}/sobjects/${object.name}/${id}` },
  };
  for (const name of fields) {
    const f = object.field(name) as FieldDef;
    // Blob fields come back as the URL to read them from, never inline.
    out[f.name] = f.type === 'base64' ? `${base}/sobjects/${object.name}/${id}/${f.name}` : (values[f.name] ?? null);
  }
  return out;
}

function globalEntry(o: SObject, base: string): Record<string, unknown> {
  return {
    name: o.name,
    label: o.label,
    labelPlural: `${o.label}s`,
    custom: o.custom,
    keyPrefix: o.keyPrefix,
    queryable: o.queryable,
    retrieveable: o.retrieveable,
    replicateable: o.replicateable,
    createable: true,
    updateable: true,
    deletable: true,
    searchable: o.queryable,
    layoutable: true,
    urls: { sobject: `${base}/sobjects/${o.name}`, describe: `${base}/sobjects/${o.name}/describe` },
  };
}

function describeBody(o: SObject, org: Org, base: string): Record<string, unknown> {
  const childRelationships: Record<string, unknown>[] = [];
  for (const child of org.objects.values()) {
    for (const f of child.fields) {
      if (
        f.relationshipName &&
        f.referenceTo?.some((r) => r.toLowerCase() === o.name.toLowerCase()) &&
        f.type === 'reference' &&
        f.name !== 'CreatedById' &&
        f.name !== 'LastModifiedById'
      ) {
        childRelationships.push({
          childSObject: child.name,
          field: f.name,
          cascadeDelete: !!f.cascadeDelete,
          relationshipName: `${child.name.replace(/__c$/, '')}s`,
        });
      }
    }
  }
  return {
    ...globalEntry(o, base),
    childRelationships,
    fields: o.fields.map((f) => ({
      name: f.name,
      label: f.label ?? f.name,
      type: f.type,
      soapType: soapType(f),
      custom: f.custom ?? f.name.endsWith('__c'),
      nillable: !['Id', 'IsDeleted', 'CreatedDate', 'SystemModstamp'].includes(f.name) && !isRequired(f),
      calculated: !!f.formula,
      createable: isCreateable(f),
      updateable: isUpdateable(f),
      defaultedOnCreate: [
        'Id',
        'IsDeleted',
        'CreatedDate',
        'CreatedById',
        'LastModifiedDate',
        'LastModifiedById',
        'SystemModstamp',
      ].includes(f.name),
      length: f.type === 'string' || f.type === 'textarea' ? 255 : 0,
      referenceTo: f.referenceTo ?? [],
      relationshipName: f.relationshipName ?? null,
      cascadeDelete: !!f.cascadeDelete,
      externalId: !!f.externalId,
      unique: !!f.unique,
      idLookup: f.name === 'Id' || !!f.externalId || !!f.unique,
      encrypted: false,
      compoundFieldName: null,
    })),
  };
}

function soapType(f: FieldDef): string {
  switch (f.type) {
    case 'id':
    case 'reference':
      return 'tns:ID';
    case 'boolean':
      return 'xsd:boolean';
    case 'int':
      return 'xsd:int';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    case 'base64':
      return 'xsd:base64Binary';
    default:
      return 'xsd:string';
  }
}

/** getUpdated / getDeleted: the window must start within 30 days and end after it starts. */
function replication(org: Org, o: SObject, kind: 'updated' | 'deleted', q: URLSearchParams): Record<string, unknown> {
  if (!o.replicateable) {
    throw restError(400, 'INVALID_TYPE', `sObject type '${o.name}' is not supported for replication.`);
  }
  const start = Date.parse(q.get('start') ?? '');
  const end = Date.parse(q.get('end') ?? '');
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) {
    throw restError(400, 'INVALID_REPLICATION_DATE', 'startDate must chronologically precede endDate');
  }
  const now = org.now().getTime();
  if (start < now - 30 * DAY_MS) {
    throw restError(400, 'INVALID_REPLICATION_DATE', 'startDate cannot be more than 30 days ago');
  }
  // Salesforce rounds the window down to whole minutes.
  const latest = Math.min(end, now) - (Math.min(end, now) % 60_000);
  const ts = (v: unknown) => Date.parse(String(v).replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (kind === 'updated') {
    const ids = [...o.records.values()]
      .filter((r) => !r.deletedAt && ts(r.values.SystemModstamp) >= start && ts(r.values.SystemModstamp) < latest)
      .map((r) => r.values.Id);
    return { ids, latestDateCovered: new Date(latest).toISOString().replace('Z', '+0000') };
  }
  // The recycle bin's rows and those gone for good (the delete log) alike.
  const log = [
    ...[...o.records.values()].flatMap((r) => (r.deletedAt ? [[r.values.Id, r.deletedAt] as const] : [])),
    ...o.deleteLog,
  ];
  const deletedRecords = log
    .filter(([, at]) => at.getTime() >= start && at.getTime() < latest)
    .map(([id, at]) => ({ id, deletedDate: at.toISOString().replace('Z', '+0000') }));
  return {
    deletedRecords,
    earliestDateAvailable: new Date(now - 15 * DAY_MS).toISOString().replace('Z', '+0000'),
    latestDateCovered: new Date(latest).toISOString().replace('Z', '+0000'),
  };
}

function limitsBody(org: Org): Record<string, unknown> {
  return {
    DailyApiRequests: { Max: org.api.max, Remaining: Math.max(0, org.api.max - org.api.used) },
    DailyBulkV2QueryJobs: { Max: 10000, Remaining: 10000 },
    DailyBulkV2QueryFileStorageMB: { Max: 976562, Remaining: 976562 },
    DataStorageMB: { Max: 5, Remaining: 5 },
    FileStorageMB: { Max: 20, Remaining: 20 },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json;charset=UTF-8',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
