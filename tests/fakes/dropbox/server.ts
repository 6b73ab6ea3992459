// The Dropbox API v2 stand-in's HTTP server on loopback: one port answers the RPC host
// (api.dropboxapi.com), the content host (content.dropboxapi.com) and the OAuth pages
// (www.dropbox.com/oauth2/authorize, api.dropboxapi.com/oauth2/token); the paths do not overlap.
// Tests point the `dropbox` SDK at it through a fetch that rewrites the SDK's https:// URLs (see
// plugins/services/dropbox/client.ts, or `sdkOptions()` below).
//
// Faults: `faults.rateLimitRate` / `serverErrorRate` answer that share of API calls (seeded, so
// runs repeat) with 429 + Retry-After or a 5xx; `faults.failNext` fails the next calls with 503;
// `failPath()` makes downloads of one path fail, `scriptPath()` gives them a sequence of answers,
// `holdDownloads()` makes them wait for a release;
// `invalidateCursors()` makes every list_folder cursor answer 409 `reset`. Counters: `requests` per route, `downloads` per path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContentHasher } from './content-hash.ts';
import { deletedJson, headerSafeJson, memberProfileJson, metadataJson, teamFolderJson } from './metadata.ts';
import {
  ApiError,
  type FileNode,
  lookupError,
  type Member,
  type Namespace,
  type Node,
  nameProblem,
  routeError,
  TeamModel,
  type WriteMode,
} from './model.ts';
import { type AccessToken, OAuthServer } from './oauth.ts';

export interface FakeDropboxOptions {
  teamName?: string;
  appKey?: string;
  appSecret?: string;
  /** Seed of the fault injection's random numbers. */
  seed?: number;
}

interface Session {
  parts: Buffer[];
  size: number;
  closed: boolean;
}

interface Caller {
  token: AccessToken;
  /** The member whose Dropbox the call acts on (Select-User), or the admin (Select-Admin). */
  member: Member | undefined;
  admin: boolean;
}

interface ListCursor {
  n: string;
  p: string;
  r: boolean;
  e: number;
  s: number;
  l: number;
  /** While the first listing is paged: the last path returned. */
  a?: string;
}

function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const authError = (tag: string) => new ApiError(401, { error_summary: `${tag}/..`, error: { '.tag': tag } });

const MIB = 1024 * 1024;

export class FakeDropbox {
  readonly team: TeamModel;
  readonly oauth: OAuthServer;
  readonly appKey: string;
  readonly appSecret: string;
  readonly faults = {
    rateLimitRate: 0,
    serverErrorRate: 0,
    retryAfterSeconds: 1,
    failNext: 0,
  };
  /** Calls per route ("files/list_folder", "oauth2/token", …). */
  readonly requests = new Map<string, number>();
  /** Downloads per "<namespace id>:<path_lower>". */
  readonly downloads = new Map<string, number>();
  /** Answers (status codes) given by fault injection. */
  readonly injected = { rateLimited: 0, serverErrors: 0 };
  /** Largest body files/upload and one upload_session call accept (Dropbox: 150 MiB). */
  maxRequestBytes = 150 * MIB;
  url = '';
  readonly #server: Server;
  readonly #random: () => number;
  readonly #pathFailures = new Map<string, { status: number; remaining: number }>();
  readonly #pathScripts = new Map<string, (number | 'corrupt')[]>();
  readonly #sessions = new Map<string, Session>();
  #hold: { reach: () => void; released: Promise<void> } | undefined;
  #epoch = 0;
  #sessionSeq = 0;

  constructor(options: FakeDropboxOptions = {}) {
    this.team = new TeamModel(options.teamName ?? 'Acme Team');
    this.appKey = options.appKey ?? 'test-app-key';
    this.appSecret = options.appSecret ?? 'test-app-secret';
    this.#random = mulberry32(options.seed ?? 1);
    this.oauth = new OAuthServer(
      () => {
        const admin = this.team.members.find((m) => m.role === 'team_admin' && m.status === 'active');
        if (!admin) throw new ApiError(400, 'The team has no active admin to approve the app.');
        return admin;
      },
      () => this.team.id,
    );
    this.oauth.apps.set(this.appKey, this.appSecret);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
    });
    this.#server.keepAliveTimeout = 1000;
  }

  /**
   * Listens on 127.0.0.1 and an ephemeral port; `host` listens elsewhere (0.0.0.0 for a container
   * to reach it) and `advertisedHost` is the name its URL uses (e.g. host.docker.internal).
   */
  async start(listen: { host?: string; advertisedHost?: string } = {}): Promise<this> {
    const host = listen.host ?? '127.0.0.1';
    await new Promise<void>((resolve) => this.#server.listen(0, host, resolve));
    this.url = `http://${listen.advertisedHost ?? '127.0.0.1'}:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- test controls -------------------------------------------------------------------------

  /** Every list_folder cursor handed out so far answers 409 `reset`. */
  invalidateCursors(): void {
    this.#epoch++;
  }

  /**
   * The next downloads of this path (lowercased) answer in turn: a status fails the request with
   * it, 'corrupt' sends bytes that do not match the file's content_hash; then it answers normally.
   */
  scriptPath(pathLower: string, answers: readonly (number | 'corrupt')[]): void {
    this.#pathScripts.set(pathLower, [...answers]);
  }

  /** Downloads of this path (lowercased, any namespace) answer `status` (409: restricted_content). */
  failPath(pathLower: string, options: { status?: number; times?: number } = {}): void {
    this.#pathFailures.set(pathLower, { status: options.status ?? 409, remaining: options.times ?? Infinity });
  }

  /**
   * Downloads wait until `release()` (a test cancels a run while it is held); `reached` resolves
   * when the first one arrives.
   */
  holdDownloads(): { reached: Promise<void>; release: () => void } {
    let reach = () => {};
    let release = () => {};
    const reached = new Promise<void>((resolve) => {
      reach = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#hold = { reach: () => reach(), released };
    return {
      reached,
      release: () => {
        this.#hold = undefined;
        release();
      },
    };
  }

  downloadCount(pathLower?: string): number {
    let n = 0;
    for (const [key, count] of this.downloads) if (pathLower === undefined || key.endsWith(`:${pathLower}`)) n += count;
    return n;
  }

  resetCounters(): void {
    this.requests.clear();
    this.downloads.clear();
    this.injected.rateLimited = 0;
    this.injected.serverErrors = 0;
  }

  /** A refresh token as if an admin had connected the app (no browser). */
  grant(): { refreshToken: string; accessToken: string } {
    return this.oauth.grant(this.appKey);
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  #fail(res: ServerResponse, err: unknown): void {
    const e = err instanceof ApiError ? err : new ApiError(500, `Internal error: ${(err as Error).message}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = typeof e.body === 'string';
    res.writeHead(e.status, {
      'Content-Type': text ? 'text/plain; charset=utf-8' : 'application/json',
      ...e.headers,
    });
    res.end(text ? e.body : JSON.stringify(e.body));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = url.pathname.replace(/^\/(2\/)?/, '');
    this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
    if (url.pathname === '/oauth2/authorize' && req.method === 'GET') {
      res.writeHead(302, { Location: this.oauth.authorize(url.searchParams) }).end();
      return;
    }
    const body = await readBody(req, this.maxRequestBytes + MIB);
    if (url.pathname === '/oauth2/token' && req.method === 'POST') {
      const params = new URLSearchParams(url.search);
      if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(body.toString())) params.set(k, v);
      }
      sendJson(res, 200, this.oauth.token(params, req.headers.authorization));
      return;
    }
    if (!url.pathname.startsWith('/2/') || req.method !== 'POST') {
      throw new ApiError(404, `Unknown API function: ${url.pathname}`);
    }
    this.#injectFaults();
    const token = this.#authenticate(req);
    const content = route === 'files/download' || route === 'files/upload' || route.startsWith('files/upload_session/');
    let args: Record<string, unknown>;
    if (content) {
      const raw = req.headers['dropbox-api-arg'] ?? url.searchParams.get('arg');
      args = parseArgs(typeof raw === 'string' ? raw : undefined, route);
    } else {
      if (body.byteLength > 0 && !String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        throw new ApiError(400, `Error in call to API function "${route}": Bad HTTP "Content-Type" header.`);
      }
      args = body.byteLength > 0 ? parseArgs(body.toString(), route) : {};
    }
    if (route === 'files/download') {
      if (this.#hold) {
        this.#hold.reach();
        await this.#hold.released;
      }
      this.#download(req, res, token, args);
      return;
    }
    const result = await this.#call(route, req, token, args, body);
    sendJson(res, 200, result);
  }

  #injectFaults(): void {
    if (this.faults.failNext > 0) {
      this.faults.failNext--;
      this.injected.serverErrors++;
      throw new ApiError(503, 'Service Unavailable');
    }
    if (this.faults.rateLimitRate > 0 && this.#random() < this.faults.rateLimitRate) {
      this.injected.rateLimited++;
      const retryAfter = this.faults.retryAfterSeconds;
      throw new ApiError(
        429,
        {
          error_summary: 'too_many_requests/..',
          error: { reason: { '.tag': 'too_many_requests' }, retry_after: retryAfter },
        },
        { 'Retry-After': String(retryAfter) },
      );
    }
    if (this.faults.serverErrorRate > 0 && this.#random() < this.faults.serverErrorRate) {
      this.injected.serverErrors++;
      throw new ApiError(this.#random() < 0.5 ? 500 : 503, 'Internal Server Error');
    }
  }

  #authenticate(req: IncomingMessage): AccessToken {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) throw authError('invalid_access_token');
    const access = this.oauth.accessTokens.get(header.slice(7));
    if (!access || access.revoked) throw authError('invalid_access_token');
    if (access.expiresAt < Date.now()) throw authError('expired_access_token');
    return access;
  }

  /** Select-User / Select-Admin: a team token acts on one member's Dropbox (files/* routes). */
  #caller(req: IncomingMessage, token: AccessToken, route: string): Caller {
    const selectUser = header(req, 'dropbox-api-select-user');
    const selectAdmin = header(req, 'dropbox-api-select-admin');
    if (selectUser) {
      const member = this.team.member(selectUser);
      if (!member || member.status === 'removed' || member.status === 'invited') throw authError('invalid_select_user');
      if (member.status === 'suspended') throw authError('user_suspended');
      return { token, member, admin: false };
    }
    if (selectAdmin) {
      const member = this.team.member(selectAdmin);
      if (member?.role !== 'team_admin' || member.status !== 'active') throw authError('invalid_select_admin');
      return { token, member, admin: true };
    }
    throw new ApiError(
      400,
      `Error in call to API function "${route}": This API function operates on a single Dropbox account, but the OAuth 2 access token you provided is for an entire Dropbox Business team. Since your API app key has team member file access permissions, you can operate on a team member's Dropbox by providing the "Dropbox-API-Select-User" HTTP header or "select_user" URL parameter.`,
    );
  }

  /** The namespace a files/* call works in: the member's, or the one named by Dropbox-API-Path-Root. */
  #namespace(req: IncomingMessage, caller: Caller): Namespace {
    const root = header(req, 'dropbox-api-path-root');
    const own = (caller.member as Member).namespace;
    if (!root) return own;
    let parsed: { '.tag'?: string; namespace_id?: string; root?: string };
    try {
      parsed = JSON.parse(root);
    } catch {
      throw new ApiError(400, 'Error in call to API function: Dropbox-API-Path-Root could not decode input as JSON');
    }
    if (parsed['.tag'] === 'home') return own;
    const id = parsed['.tag'] === 'namespace_id' ? parsed.namespace_id : parsed['.tag'] === 'root' ? parsed.root : '';
    const ns = this.#accessible(caller, id ?? '');
    if (!ns) {
      throw new ApiError(422, { error_summary: 'no_permission/..', error: { '.tag': 'no_permission' } });
    }
    return ns;
  }

  #accessible(caller: Caller, namespaceId: string): Namespace | undefined {
    const ns = this.team.namespaces.get(namespaceId);
    if (!ns) return undefined;
    if (caller.admin) return ns;
    const member = caller.member as Member;
    if (ns === member.namespace) return ns;
    const folder = this.team.teamFolders.find((f) => f.namespace === ns);
    return folder?.status === 'active' ? ns : undefined;
  }

  /** A path argument: "/a/b", "" (root), "id:…", or "ns:<id>/a/b". */
  #resolve(caller: Caller, ns: Namespace, path: unknown): { ns: Namespace; path: string; node?: Node } {
    if (typeof path !== 'string')
      throw new ApiError(400, 'Error in call to API function: missing required field "path"');
    if (path.startsWith('id:')) {
      const node = ns.byId(path);
      if (!node) throw lookupError('not_found');
      return { ns, path: node.pathDisplay, node };
    }
    if (path.startsWith('ns:')) {
      const slash = path.indexOf('/');
      const id = slash < 0 ? path.slice(3) : path.slice(3, slash);
      const target = this.#accessible(caller, id);
      if (!target) throw lookupError('not_found');
      const rest = slash < 0 ? '' : path.slice(slash);
      return { ns: target, path: rest, node: rest ? target.get(rest) : undefined };
    }
    return { ns, path, node: path ? ns.get(path) : undefined };
  }

  #shared(ns: Namespace): boolean {
    return this.team.teamFolders.some((f) => f.namespace === ns);
  }

  #download(req: IncomingMessage, res: ServerResponse, token: AccessToken, args: Record<string, unknown>): void {
    const caller = this.#caller(req, token, 'files/download');
    const target = this.#resolve(caller, this.#namespace(req, caller), args.path);
    const node = target.node;
    if (!node) throw routeError({ '.tag': 'path', path: { '.tag': 'not_found' } });
    if (node.tag !== 'file') throw routeError({ '.tag': 'path', path: { '.tag': 'not_file' } });
    const failure = this.#pathFailures.get(node.pathLower);
    if (failure && failure.remaining > 0) {
      failure.remaining--;
      if (failure.status === 409) throw routeError({ '.tag': 'path', path: { '.tag': 'restricted_content' } });
      throw new ApiError(failure.status, 'Internal Server Error');
    }
    const scripted = this.#pathScripts.get(node.pathLower)?.shift();
    if (typeof scripted === 'number') throw new ApiError(scripted, 'Internal Server Error');
    const key = `${target.ns.id}:${node.pathLower}`;
    this.downloads.set(key, (this.downloads.get(key) ?? 0) + 1);
    const content = scripted === 'corrupt' ? Buffer.from(node.content).fill(0x21) : node.content;
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(node.content.byteLength),
      'Dropbox-API-Result': headerSafeJson(metadataJson(node, target.ns, this.#shared(target.ns))),
    });
    res.end(content);
  }

  async #call(
    route: string,
    req: IncomingMessage,
    token: AccessToken,
    args: Record<string, unknown>,
    body: Buffer,
  ): Promise<unknown> {
    switch (route) {
      case 'auth/token/revoke':
        this.oauth.revoke(token);
        return null;
      case 'team/get_info':
        return {
          name: this.team.name,
          team_id: this.team.id,
          num_licensed_users: this.team.members.length,
          num_provisioned_users: this.team.members.filter((m) => m.status === 'active').length,
          policies: {},
        };
      case 'team/token/get_authenticated_admin':
        return { admin_profile: memberProfileJson(token.admin) };
      case 'team/members/list':
      case 'team/members/list/continue':
        return this.#page(
          route,
          args,
          (cursor) => {
            const includeRemoved = cursor ? cursor.x === true : args.include_removed === true;
            return this.team.members
              .filter((m) => includeRemoved || m.status !== 'removed')
              .map((m) => ({ profile: memberProfileJson(m), role: { '.tag': m.role } }));
          },
          'members',
          1000,
        );
      case 'team/team_folder/list':
      case 'team/team_folder/list/continue':
        return this.#page(route, args, () => this.team.teamFolders.map(teamFolderJson), 'team_folders', 1000);
    }
    const caller = this.#caller(req, token, route);
    const ns = this.#namespace(req, caller);
    switch (route) {
      case 'files/get_metadata': {
        const target = this.#resolve(caller, ns, args.path);
        if (!target.path)
          throw new ApiError(
            400,
            'Error in call to API function "files/get_metadata": request body: path: The root folder is unsupported.',
          );
        if (!target.node) throw lookupError('not_found');
        return metadataJson(target.node, target.ns, this.#shared(target.ns));
      }
      case 'files/list_folder':
        return this.#listFolder(caller, ns, args);
      case 'files/list_folder/continue':
        return this.#continue(caller, args);
      case 'files/create_folder_v2': {
        const target = this.#resolve(caller, ns, args.path);
        refuseName(target.path, (reason) => ({ '.tag': 'path', path: reason }));
        const folder = target.ns.mkdir(target.path, { exclusive: true, autorename: args.autorename === true });
        return { metadata: metadataJson(folder, target.ns, this.#shared(target.ns)) };
      }
      case 'files/upload': {
        if (body.byteLength > this.maxRequestBytes) throw routeError({ '.tag': 'payload_too_large' });
        checkHash(args.content_hash, body);
        const target = this.#resolve(caller, ns, args.path);
        refuseName(target.path, (reason) => ({ '.tag': 'path', reason, upload_session_id: '' }));
        const file = this.#write(target.ns, target.path, body, args, caller);
        return metadataJson(file, target.ns, this.#shared(target.ns));
      }
      case 'files/upload_session/start': {
        if (body.byteLength > this.maxRequestBytes) throw routeError({ '.tag': 'payload_too_large' });
        checkHash(args.content_hash, body);
        const id = `session-${++this.#sessionSeq}`;
        this.#sessions.set(id, { parts: [body], size: body.byteLength, closed: args.close === true });
        return { session_id: id };
      }
      case 'files/upload_session/append_v2': {
        if (body.byteLength > this.maxRequestBytes) throw routeError({ '.tag': 'payload_too_large' });
        checkHash(args.content_hash, body);
        const session = this.#session(args.cursor, false);
        session.parts.push(body);
        session.size += body.byteLength;
        if (args.close === true) session.closed = true;
        return null;
      }
      case 'files/upload_session/finish': {
        checkHash(args.content_hash, body);
        const cursor = args.cursor as { session_id?: string };
        let session: Session;
        try {
          session = this.#session(args.cursor, true);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            throw routeError({ '.tag': 'lookup_failed', lookup_failed: (err.body as { error: unknown }).error });
          }
          throw err;
        }
        session.parts.push(body);
        const commit = (args.commit ?? {}) as Record<string, unknown>;
        const target = this.#resolve(caller, ns, commit.path);
        refuseName(target.path, (reason) => ({ '.tag': 'path', path: reason }));
        let file: FileNode;
        try {
          file = this.#write(target.ns, target.path, Buffer.concat(session.parts), commit, caller);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            const error = (err.body as { error: Record<string, unknown> }).error;
            throw routeError({ '.tag': 'path', path: error.reason ?? error.path });
          }
          throw err;
        }
        this.#sessions.delete(cursor.session_id as string);
        return metadataJson(file, target.ns, this.#shared(target.ns));
      }
      case 'files/delete_v2': {
        const target = this.#resolve(caller, ns, args.path);
        if (!target.path || !target.node) {
          throw routeError({ '.tag': 'path_lookup', path_lookup: { '.tag': 'not_found' } });
        }
        const metadata = metadataJson(target.node, target.ns, this.#shared(target.ns));
        target.ns.remove(target.path);
        return { metadata };
      }
      case 'files/move_v2': {
        let from: { ns: Namespace; path: string; node?: Node };
        try {
          from = this.#resolve(caller, ns, args.from_path);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            throw routeError({ '.tag': 'from_lookup', from_lookup: { '.tag': 'not_found' } });
          }
          throw err;
        }
        const to = this.#resolve(caller, ns, args.to_path);
        if (to.ns !== from.ns) throw new ApiError(400, 'The stand-in moves within one namespace only.');
        refuseName(to.path, (reason) => ({ '.tag': 'to', to: reason }));
        const node = from.ns.move(from.path, to.path, { autorename: args.autorename === true });
        return { metadata: metadataJson(node, from.ns, this.#shared(from.ns)) };
      }
      default:
        throw new ApiError(400, `Unknown API function: "${route}"`);
    }
  }

  #session(cursor: unknown, finishing: boolean): Session {
    const c = (cursor ?? {}) as { session_id?: string; offset?: number };
    const session = this.#sessions.get(c.session_id ?? '');
    if (!session) throw routeError({ '.tag': 'not_found' });
    if (session.closed && !finishing) throw routeError({ '.tag': 'closed' });
    if (c.offset !== session.size) throw routeError({ '.tag': 'incorrect_offset', correct_offset: session.size });
    return session;
  }

  #write(ns: Namespace, path: string, content: Buffer, args: Record<string, unknown>, caller: Caller): FileNode {
    const raw = args.mode ?? 'add';
    const tag = typeof raw === 'string' ? raw : (raw as { '.tag'?: string })['.tag'];
    const mode: WriteMode =
      tag === 'overwrite'
        ? 'overwrite'
        : tag === 'update'
          ? { update: String((raw as { update?: string }).update) }
          : 'add';
    return ns.writeFile(path, content, {
      mode,
      autorename: args.autorename === true,
      ...(typeof args.client_modified === 'string' ? { clientModified: args.client_modified } : {}),
      ...(caller.member ? { modifiedBy: caller.member.accountId } : {}),
    });
  }

  #page(
    route: string,
    args: Record<string, unknown>,
    all: (cursor: { o: number; x?: boolean; l: number } | undefined) => unknown[],
    field: string,
    defaultLimit: number,
  ): unknown {
    let cursor: { o: number; x?: boolean; l: number } | undefined;
    if (route.endsWith('/continue')) {
      try {
        cursor = JSON.parse(Buffer.from(String(args.cursor), 'base64url').toString());
      } catch {
        cursor = undefined;
      }
      if (!cursor || typeof cursor.o !== 'number') throw routeError({ '.tag': 'invalid_cursor' });
    }
    const limit = cursor?.l ?? (typeof args.limit === 'number' ? args.limit : defaultLimit);
    const offset = cursor?.o ?? 0;
    const list = all(cursor);
    const page = list.slice(offset, offset + limit);
    const next = {
      o: offset + page.length,
      l: limit,
      ...(args.include_removed === true || cursor?.x ? { x: true } : {}),
    };
    return {
      [field]: page,
      cursor: Buffer.from(JSON.stringify(next)).toString('base64url'),
      has_more: next.o < list.length,
    };
  }

  #listFolder(caller: Caller, ns: Namespace, args: Record<string, unknown>): unknown {
    const target = this.#resolve(caller, ns, args.path);
    if (target.path && !target.node) throw routeError({ '.tag': 'path', path: { '.tag': 'not_found' } });
    if (target.node && target.node.tag !== 'folder') {
      throw routeError({ '.tag': 'path', path: { '.tag': 'not_folder' } });
    }
    const cursor: ListCursor = {
      n: target.ns.id,
      p: target.node?.pathLower ?? '',
      r: args.recursive === true,
      e: this.#epoch,
      s: this.team.peekSeq() - 1,
      l: typeof args.limit === 'number' ? Math.max(1, Math.min(2000, args.limit)) : 2000,
      a: '',
    };
    return this.#listing(target.ns, cursor);
  }

  #continue(caller: Caller, args: Record<string, unknown>): unknown {
    let cursor: ListCursor | undefined;
    try {
      cursor = JSON.parse(Buffer.from(String(args.cursor), 'base64url').toString());
    } catch {
      cursor = undefined;
    }
    if (!cursor || typeof cursor.n !== 'string') {
      throw new ApiError(400, 'Error in call to API function "files/list_folder/continue": Invalid "cursor" parameter');
    }
    if (cursor.e !== this.#epoch) throw routeError({ '.tag': 'reset' });
    const ns = this.#accessible(caller, cursor.n);
    if (!ns) throw routeError({ '.tag': 'path', path: { '.tag': 'not_found' } });
    if (cursor.a !== undefined) return this.#listing(ns, cursor);
    return this.#changes(ns, cursor);
  }

  /** The first listing, page by page in path order (a folder before what is in it). */
  #listing(ns: Namespace, cursor: ListCursor): unknown {
    const after = cursor.a ?? '';
    const all = ns.list(cursor.p, cursor.r).filter((n) => n.pathLower > after);
    const page = all.slice(0, cursor.l);
    const more = all.length > page.length;
    const last = page[page.length - 1];
    const next: ListCursor = { ...cursor };
    if (more && last) next.a = last.pathLower;
    else delete next.a;
    const shared = this.#shared(ns);
    return {
      entries: page.map((n) => metadataJson(n, ns, shared)),
      cursor: Buffer.from(JSON.stringify(next)).toString('base64url'),
      has_more: more,
    };
  }

  /** What changed since the cursor's position in the change log. */
  #changes(ns: Namespace, cursor: ListCursor): unknown {
    const root = cursor.p;
    if (root && !ns.nodes.has(root)) throw routeError({ '.tag': 'path', path: { '.tag': 'not_found' } });
    const entries: Record<string, unknown>[] = [];
    const shared = this.#shared(ns);
    let position = cursor.s;
    let more = false;
    for (const change of ns.log) {
      if (change.seq <= cursor.s) continue;
      if (entries.length >= cursor.l) {
        more = true;
        break;
      }
      position = change.seq;
      const p = change.pathLower;
      if (!p.startsWith(`${root}/`)) continue;
      if (!cursor.r && p.lastIndexOf('/') !== root.length) continue;
      if (change.op === 'delete') {
        entries.push(deletedJson(p, change.display ?? p));
        continue;
      }
      const node = ns.nodes.get(p);
      if (!node) continue; // changed, then deleted: its delete (or its folder's) follows
      entries.push(metadataJson(node, ns, shared));
    }
    const next: ListCursor = { ...cursor, s: position };
    delete next.a;
    return { entries, cursor: Buffer.from(JSON.stringify(next)).toString('base64url'), has_more: more };
  }
}

/** Dropbox's name rules (see nameProblem): the route's error with the WriteError inside. */
function refuseName(path: string, shape: (reason: { '.tag': string }) => Record<string, unknown>): void {
  const problem = nameProblem(path);
  if (problem) throw routeError(shape({ '.tag': problem }));
}

function checkHash(expected: unknown, body: Buffer): void {
  if (typeof expected !== 'string') return;
  if (new ContentHasher().update(body).digest() !== expected) throw routeError({ '.tag': 'content_hash_mismatch' });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function parseArgs(raw: string | undefined, route: string): Record<string, unknown> {
  if (raw === undefined) {
    throw new ApiError(
      400,
      `Error in call to API function "${route}": Must provide HTTP header "Dropbox-API-Arg" or URL parameter "arg".`,
    );
  }
  try {
    const value = JSON.parse(raw) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    throw new ApiError(400, `Error in call to API function "${route}": could not decode input as JSON`);
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) throw new ApiError(413, 'Request body too large');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}
