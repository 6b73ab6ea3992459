// The stand-in's state: a team with members and team folders, each owning a namespace of files
// and folders. Paths are case-insensitive (looked up by their lowercased form) and keep the
// casing they were created with for display, as Dropbox does. Every change appends to the
// namespace's change log under a team-wide sequence number; list_folder cursors point into that
// log, so list_folder/continue returns exactly the changes since (a deleted folder is one
// `deleted` entry, its contents go with it).
import { randomBytes } from 'node:crypto';
import { contentHash } from './content-hash.ts';

export interface FileNode {
  tag: 'file';
  id: string;
  name: string;
  pathLower: string;
  pathDisplay: string;
  rev: string;
  content: Buffer;
  contentHash: string;
  clientModified: string;
  serverModified: string;
  /** Account id of the member who last changed it (reported in sharing_info of team folder files). */
  modifiedBy?: string;
}

export interface FolderNode {
  tag: 'folder';
  id: string;
  name: string;
  pathLower: string;
  pathDisplay: string;
}

export type Node = FileNode | FolderNode;

export interface Change {
  seq: number;
  pathLower: string;
  op: 'put' | 'delete';
  /** For a delete: the display path the item had. */
  display?: string;
}

/** An API error: the HTTP status and the body Dropbox would send (JSON object or plain text). */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** A route error (409) in Dropbox's shape: {error_summary, error}. */
export function routeError(error: Record<string, unknown>): ApiError {
  return new ApiError(409, { error_summary: `${summaryOf(error)}/..`, error });
}

function summaryOf(value: unknown): string {
  if (!value || typeof value !== 'object') return '';
  const tag = (value as Record<string, unknown>)['.tag'];
  if (typeof tag !== 'string') return '';
  const record = value as Record<string, unknown>;
  // A union member that is a struct has its fields inline (UploadError.path carries `reason`).
  const inner = summaryOf(record[tag] ?? record.reason);
  return inner ? `${tag}/${inner}` : tag;
}

export const lookupError = (tag: 'not_found' | 'not_file' | 'not_folder' | 'malformed_path') =>
  routeError({ '.tag': 'path', path: { '.tag': tag } });

/** Names Dropbox refuses to store (WriteError `disallowed_name`), compared ignoring case. */
const DISALLOWED_NAMES = new Set(['desktop.ini', 'thumbs.db', '.ds_store', 'icon\r', '.dropbox', '.dropbox.attr']);

/** Longest path component the API takes, in characters. */
const MAX_NAME_CHARS = 255;

/**
 * Why Dropbox would refuse to write `path` (a WriteError tag), or undefined. Its rules: `/` and
 * `\\` are never part of a name, a name does not end in a space or a period and has at most 255
 * characters (`malformed_path`), and a few system files are not stored (`disallowed_name`).
 * Names are otherwise kept as sent — no Unicode normalization, so the NFC and the NFD spelling of
 * a name are two names — and compared ignoring case (`path_lower`).
 */
export function nameProblem(path: string): 'malformed_path' | 'disallowed_name' | undefined {
  for (const segment of splitPath(path)) {
    if (segment.includes('\\') || /[ .]$/.test(segment) || [...segment].length > MAX_NAME_CHARS) {
      return 'malformed_path';
    }
    if (DISALLOWED_NAMES.has(segment.toLowerCase())) return 'disallowed_name';
  }
  return undefined;
}

function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url').replace(/[-_]/g, 'x');
}

/** Dropbox timestamps: ISO 8601 in UTC without fractional seconds. */
export function dropboxTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function parentOf(pathLower: string): string {
  const at = pathLower.lastIndexOf('/');
  return at <= 0 ? '' : pathLower.slice(0, at);
}

function withSuffix(name: string, n: number, isFile: boolean): string {
  const dot = isFile ? name.lastIndexOf('.') : -1;
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
}

export type WriteMode = 'add' | 'overwrite' | { update: string };

export interface WriteOptions {
  mode?: WriteMode;
  autorename?: boolean;
  clientModified?: string;
  /** Seeding: the server time of the change (default: the model's clock). */
  serverModified?: string;
  modifiedBy?: string;
}

export class Namespace {
  readonly id: string;
  readonly nodes = new Map<string, Node>();
  readonly log: Change[] = [];
  readonly #team: TeamModel;

  constructor(team: TeamModel, id: string) {
    this.#team = team;
    this.id = id;
  }

  /** Normalises "/A/b" (or "" for the root) to its lowercased form; throws malformed_path. */
  static lower(path: string): string {
    if (path === '' || path === '/') return '';
    if (!path.startsWith('/') || path.endsWith('/') || path.includes('//')) throw lookupError('malformed_path');
    return path.toLowerCase();
  }

  get(path: string): Node | undefined {
    return this.nodes.get(Namespace.lower(path));
  }

  byId(id: string): Node | undefined {
    for (const node of this.nodes.values()) if (node.id === id) return node;
    return undefined;
  }

  #record(pathLower: string, op: 'put' | 'delete', display?: string): void {
    this.log.push({ seq: this.#team.nextSeq(), pathLower, op, ...(display ? { display } : {}) });
  }

  /** Creates the folder and missing parents. `exclusive`: an existing folder is a conflict (the API). */
  mkdir(path: string, options: { exclusive?: boolean; autorename?: boolean } = {}): FolderNode {
    const segments = splitPath(path);
    if (segments.length === 0) throw routeError({ '.tag': 'path', path: { '.tag': 'malformed_path' } });
    let display = '';
    for (let i = 0; i < segments.length; i++) {
      const last = i === segments.length - 1;
      let name = segments[i] as string;
      let candidate = `${display}/${name}`;
      let existing = this.nodes.get(candidate.toLowerCase());
      if (existing && last && options.exclusive) {
        if (!options.autorename) {
          throw routeError({ '.tag': 'path', path: { '.tag': 'conflict', conflict: { '.tag': existing.tag } } });
        }
        for (let n = 1; existing; n++) {
          name = withSuffix(segments[i] as string, n, false);
          candidate = `${display}/${name}`;
          existing = this.nodes.get(candidate.toLowerCase());
        }
      }
      if (existing?.tag === 'file') {
        throw routeError({
          '.tag': 'path',
          path: { '.tag': 'conflict', conflict: { '.tag': last ? 'file' : 'file_ancestor' } },
        });
      }
      if (!existing) {
        const node: FolderNode = {
          tag: 'folder',
          id: `id:${randomId()}`,
          name,
          pathLower: candidate.toLowerCase(),
          pathDisplay: candidate,
        };
        this.nodes.set(node.pathLower, node);
        this.#record(node.pathLower, 'put');
        existing = node;
      }
      display = existing.pathDisplay;
    }
    return this.nodes.get(display.toLowerCase()) as FolderNode;
  }

  writeFile(path: string, content: Buffer, options: WriteOptions = {}): FileNode {
    const segments = splitPath(path);
    Namespace.lower(path);
    if (segments.length === 0) throw lookupError('malformed_path');
    const parent = segments.length > 1 ? this.mkdir(`/${segments.slice(0, -1).join('/')}`) : undefined;
    const dir = parent?.pathDisplay ?? '';
    let name = segments[segments.length - 1] as string;
    let existing = this.nodes.get(`${dir}/${name}`.toLowerCase());
    const hash = contentHash(content);
    const mode = options.mode ?? 'add';
    if (existing?.tag === 'file' && existing.contentHash === hash && mode !== 'overwrite') {
      // Dropbox does not write identical content again: the existing file is the result.
      return existing;
    }
    const conflicts =
      existing &&
      (existing.tag === 'folder' ||
        mode === 'add' ||
        (typeof mode === 'object' && existing.tag === 'file' && existing.rev !== mode.update));
    if (conflicts) {
      if (!options.autorename) {
        throw routeError({
          '.tag': 'path',
          reason: { '.tag': 'conflict', conflict: { '.tag': existing?.tag === 'folder' ? 'folder' : 'file' } },
          upload_session_id: '',
        });
      }
      const base = name;
      for (let n = 1; existing; n++) {
        name = withSuffix(base, n, true);
        existing = this.nodes.get(`${dir}/${name}`.toLowerCase());
      }
    }
    const now = options.serverModified ?? dropboxTime(this.#team.now());
    const seq = this.#team.peekSeq();
    const previous = existing?.tag === 'file' ? existing : undefined;
    const node: FileNode = {
      tag: 'file',
      id: previous?.id ?? `id:${randomId()}`,
      // Keeps the casing of an existing file's name when it is overwritten, as Dropbox does.
      name: previous?.name ?? name,
      pathLower: `${dir}/${name}`.toLowerCase(),
      pathDisplay: previous?.pathDisplay ?? `${dir}/${name}`,
      rev: seq.toString(16).padStart(9, '0') + randomBytes(3).toString('hex'),
      content,
      contentHash: hash,
      clientModified: options.clientModified ?? now,
      serverModified: now,
      ...(options.modifiedBy ? { modifiedBy: options.modifiedBy } : {}),
    };
    this.nodes.set(node.pathLower, node);
    this.#record(node.pathLower, 'put');
    return node;
  }

  /** Deletes a file or a folder with everything in it (one `deleted` change). */
  remove(path: string): Node {
    const lower = Namespace.lower(path);
    const node = this.nodes.get(lower);
    if (!node) throw lookupError('not_found');
    for (const key of [...this.nodes.keys()]) {
      if (key === lower || key.startsWith(`${lower}/`)) this.nodes.delete(key);
    }
    this.#record(lower, 'delete', node.pathDisplay);
    return node;
  }

  /**
   * Moves a file or a folder with everything in it (files/move_v2). Ids, revisions and content
   * stay; the change log gets a `deleted` entry for the old path and the moved entries at their
   * new paths, as list_folder/continue reports a move. A case-only rename keeps `path_lower`, so
   * only the new spellings are logged. Missing parents of the destination are created.
   */
  move(fromPath: string, toPath: string, options: { autorename?: boolean } = {}): Node {
    const fromLower = Namespace.lower(fromPath);
    const node = this.nodes.get(fromLower);
    if (!node) throw routeError({ '.tag': 'from_lookup', from_lookup: { '.tag': 'not_found' } });
    const segments = splitPath(toPath);
    if (segments.length === 0) throw routeError({ '.tag': 'to', to: { '.tag': 'malformed_path' } });
    const wanted = `/${segments.join('/')}`.toLowerCase();
    if (wanted.startsWith(`${fromLower}/`)) throw routeError({ '.tag': 'cant_move_folder_into_itself' });
    const parent = segments.length > 1 ? this.mkdir(`/${segments.slice(0, -1).join('/')}`) : undefined;
    const dir = parent?.pathDisplay ?? '';
    let name = segments[segments.length - 1] as string;
    let existing = this.nodes.get(`${dir}/${name}`.toLowerCase());
    if (existing && existing !== node) {
      if (!options.autorename) {
        throw routeError({ '.tag': 'to', to: { '.tag': 'conflict', conflict: { '.tag': existing.tag } } });
      }
      const base = name;
      for (let n = 1; existing; n++) {
        name = withSuffix(base, n, node.tag === 'file');
        existing = this.nodes.get(`${dir}/${name}`.toLowerCase());
      }
    }
    const toDisplay = `${dir}/${name}`;
    const toLower = toDisplay.toLowerCase();
    const oldDisplay = node.pathDisplay;
    const moved = [...this.nodes.values()]
      .filter((n) => n.pathLower === fromLower || n.pathLower.startsWith(`${fromLower}/`))
      .sort((a, b) => a.pathLower.length - b.pathLower.length);
    for (const n of moved) this.nodes.delete(n.pathLower);
    if (toLower !== fromLower) this.#record(fromLower, 'delete', oldDisplay);
    node.name = name;
    for (const n of moved) {
      n.pathLower = toLower + n.pathLower.slice(fromLower.length);
      n.pathDisplay = toDisplay + n.pathDisplay.slice(oldDisplay.length);
      this.nodes.set(n.pathLower, n);
      this.#record(n.pathLower, 'put');
    }
    return node;
  }

  /** Entries below a folder (not the folder itself), parents before children. */
  list(pathLower: string, recursive: boolean): Node[] {
    const out: Node[] = [];
    for (const node of this.nodes.values()) {
      if (!node.pathLower.startsWith(`${pathLower}/`)) continue;
      if (!recursive && parentOf(node.pathLower) !== pathLower) continue;
      out.push(node);
    }
    return out.sort((a, b) => (a.pathLower < b.pathLower ? -1 : a.pathLower > b.pathLower ? 1 : 0));
  }
}

export type MemberStatus = 'active' | 'invited' | 'suspended' | 'removed';

export interface Member {
  teamMemberId: string;
  accountId: string;
  email: string;
  givenName: string;
  surname: string;
  status: MemberStatus;
  role: 'team_admin' | 'member_only';
  namespace: Namespace;
}

export interface TeamFolder {
  id: string;
  name: string;
  status: 'active' | 'archived';
  namespace: Namespace;
}

export class TeamModel {
  /** Mutable so a test can stand for another team signing in (a reconnect that must be refused). */
  id = `dbtid:${randomId(20)}`;
  name: string;
  readonly members: Member[] = [];
  readonly teamFolders: TeamFolder[] = [];
  readonly namespaces = new Map<string, Namespace>();
  #seq = 1;
  #nsId = 1000;
  /** The model's clock (server_modified of changes made through the API). */
  now: () => Date = () => new Date();

  constructor(name: string) {
    this.name = name;
  }

  nextSeq(): number {
    return this.#seq++;
  }

  peekSeq(): number {
    return this.#seq;
  }

  #namespace(): Namespace {
    const ns = new Namespace(this, String(this.#nsId++));
    this.namespaces.set(ns.id, ns);
    return ns;
  }

  addMember(input: {
    email: string;
    givenName?: string;
    surname?: string;
    status?: MemberStatus;
    role?: 'team_admin' | 'member_only';
  }): Member {
    const [local = 'member'] = input.email.split('@');
    const member: Member = {
      teamMemberId: `dbmid:${randomId(20)}`,
      accountId: `dbid:${randomId(20)}`,
      email: input.email,
      givenName: input.givenName ?? local,
      surname: input.surname ?? '',
      status: input.status ?? 'active',
      role: input.role ?? 'member_only',
      namespace: this.#namespace(),
    };
    this.members.push(member);
    return member;
  }

  addTeamFolder(name: string, status: 'active' | 'archived' = 'active'): TeamFolder {
    const folder: TeamFolder = { id: '', name, status, namespace: this.#namespace() };
    folder.id = folder.namespace.id;
    this.teamFolders.push(folder);
    return folder;
  }

  member(teamMemberId: string): Member | undefined {
    return this.members.find((m) => m.teamMemberId === teamMemberId);
  }
}
