// A connection to one Dropbox team: check, discovery of members and team folders, backup of one
// entity, restore. Loaded (with the SDK) only when a task connects.
import type { files, team } from 'dropbox';
import {
  type BackupOutcome,
  type BackupRun,
  type CheckResult,
  type DiscoveredEntity,
  type EntityRef,
  type Logger,
  type RestoreOutcome,
  type RestoreRun,
  ServiceAuthError,
  type ServiceConnection,
} from '../../../core/plugins/service.ts';
import type { DropboxApp } from './app.ts';
import { backupEntity, type DropboxState } from './backup.ts';
import { call, DEFAULT_RETRY, DropboxSession, type RetryPolicy, type Target } from './client.ts';
import type { DropboxSettings } from './oauth.ts';
import { restoreEntity } from './restore.ts';

export const MEMBER = 'member';
const SUSPENDED = 'Suspended at Dropbox: their files cannot be read until reactivated.';
export const TEAM_FOLDER = 'team_folder';

/** Downloads a backup run makes at once. */
export const DOWNLOAD_CONCURRENCY = 4;

export interface ConnectOptions {
  retry?: RetryPolicy;
  concurrency?: number;
}

export async function connectDropbox(
  app: DropboxApp,
  settings: DropboxSettings,
  context: { signal: AbortSignal; log: Logger },
  options: ConnectOptions = {},
): Promise<DropboxConnection> {
  const session = new DropboxSession(app, settings.refreshToken, options.retry ?? DEFAULT_RETRY, {
    onRetry: ({ status, waitMs, attempt }) => context.log.debug({ status, waitMs, attempt }, 'Dropbox request retried'),
  });
  await session.verify();
  return new DropboxConnection(session, settings, options.concurrency ?? DOWNLOAD_CONCURRENCY);
}

export class DropboxConnection implements ServiceConnection<DropboxState> {
  readonly session: DropboxSession;
  readonly settings: DropboxSettings;
  readonly #concurrency: number;
  #adminId: Promise<string> | undefined;
  #members: Promise<team.TeamMemberInfo[]> | undefined;

  constructor(session: DropboxSession, settings: DropboxSettings, concurrency: number) {
    this.session = session;
    this.settings = settings;
    this.#concurrency = concurrency;
  }

  async check(signal: AbortSignal): Promise<CheckResult> {
    try {
      const info = await call(() => this.session.team().teamGetInfo({ signal }));
      return { ok: true, account: info.name };
    } catch (err) {
      if (err instanceof ServiceAuthError) return { ok: false, reason: err.message };
      throw err;
    }
  }

  /** Every member (removed ones excluded: their entities become Archived), once per connection. */
  members(signal: AbortSignal): Promise<team.TeamMemberInfo[]> {
    this.#members ??= (async () => {
      const client = this.session.team();
      const all: team.TeamMemberInfo[] = [];
      let page = await call(() => client.teamMembersList({ limit: 1000, include_removed: false }, { signal }));
      all.push(...page.members);
      while (page.has_more) {
        const cursor = page.cursor;
        page = await call(() => client.teamMembersListContinue({ cursor }, { signal }));
        all.push(...page.members);
      }
      return all;
    })();
    this.#members.catch(() => {
      this.#members = undefined;
    });
    return this.#members;
  }

  async *discover(signal: AbortSignal): AsyncIterable<DiscoveredEntity> {
    for (const m of await this.members(signal)) {
      const status = m.profile.status['.tag'];
      // Invited members have no files yet; suspended ones keep theirs but cannot be read: listed
      // as unavailable (not backed up, not failed; earlier snapshots stay) until reactivated.
      if (status !== 'active' && status !== 'suspended') continue;
      yield {
        externalId: m.profile.team_member_id,
        name: m.profile.email,
        kind: MEMBER,
        ...(status === 'suspended' ? { unavailable: { reason: SUSPENDED } } : {}),
      };
    }
    const client = this.session.team();
    let page = await call(() => client.teamTeamFolderList({ limit: 1000 }, { signal }));
    for (;;) {
      for (const f of page.team_folders) {
        if (f.status['.tag'] !== 'active') continue;
        yield { externalId: f.team_folder_id, name: f.name, kind: TEAM_FOLDER };
      }
      if (!page.has_more) break;
      const cursor = page.cursor;
      page = await call(() => client.teamTeamFolderListContinue({ cursor }, { signal }));
    }
  }

  async #target(entity: EntityRef, signal: AbortSignal): Promise<Target> {
    if (entity.kind === MEMBER) return { kind: 'member', memberId: entity.externalId };
    if (entity.kind !== TEAM_FOLDER) throw new Error(`Dropbox has no entities of kind "${entity.kind}"`);
    // Team folders are read as the admin who connected the app (Select-Admin + Path-Root).
    this.#adminId ??= call(() => this.session.team().teamTokenGetAuthenticatedAdmin({ signal })).then(
      (r) => r.admin_profile.team_member_id,
    );
    this.#adminId.catch(() => {
      this.#adminId = undefined;
    });
    return { kind: 'team_folder', folderId: entity.externalId, adminId: await this.#adminId };
  }

  async backup(run: BackupRun<DropboxState>): Promise<BackupOutcome<DropboxState>> {
    const target = await this.#target(run.entity, run.signal);
    let author: (entry: files.FileMetadataReference) => string | undefined;
    if (target.kind === 'member') {
      author = () => run.entity.name;
    } else {
      const byAccount = new Map<string, string>();
      for (const m of await this.members(run.signal))
        if (m.profile.account_id) byAccount.set(m.profile.account_id, m.profile.email);
      author = (entry) => {
        const by = entry.sharing_info?.modified_by;
        return by ? (byAccount.get(by) ?? by) : undefined;
      };
    }
    return backupEntity({ session: this.session, target, run, author, concurrency: this.#concurrency });
  }

  async restore(run: RestoreRun): Promise<RestoreOutcome> {
    const destination = await this.#target(run.destination, run.signal);
    return restoreEntity(this.session, destination, run);
  }
}
