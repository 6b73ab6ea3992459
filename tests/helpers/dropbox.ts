// Dropbox tasks against the loopback stand-in, through the real kernel: the appliance is
// configured with the stand-in's app and API base (HOLDFAST_DROPBOX_*), a task is connected with a
// refresh token the stand-in granted, and backups run as jobs. Also: reading a snapshot's files
// back, and restoring a snapshot through the plugin.

import { Organization } from '../../core/identity/entities.ts';
import { Job } from '../../core/jobs/entities.ts';
import { servicePlugin } from '../../core/plugins/registry.ts';
import type { EntityRef, RestoreOutcome } from '../../core/plugins/service.ts';
import { restoredFolderName } from '../../core/recovery/start.ts';
import { openConnectionSettings } from '../../core/tasks/connection.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { backupNow } from '../../core/tasks/entity-actions.ts';
import { createTask } from '../../core/tasks/tasks-service.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { FakeDropbox, type Member, type Namespace } from '../fakes/dropbox/index.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from './jobs.ts';

export interface DropboxHarness {
  fake: FakeDropbox;
  admin: Member;
  h: JobsHarness;
  close(): Promise<void>;
}

export async function createDropboxHarness(seed = 1): Promise<DropboxHarness> {
  const fake = await new FakeDropbox({ teamName: 'Acme', seed }).start();
  // Retry-After 0: throttled requests are sent again at once (the plugin honours what it is told).
  fake.faults.retryAfterSeconds = 0;
  const admin = fake.team.addMember({
    email: 'admin@acme.example',
    givenName: 'Ada',
    surname: 'Admin',
    role: 'team_admin',
  });
  const h = await createJobsHarness({
    HOLDFAST_DROPBOX_APP_KEY: fake.appKey,
    HOLDFAST_DROPBOX_APP_SECRET: fake.appSecret,
    HOLDFAST_DROPBOX_API_BASE: fake.url,
  });
  return {
    fake,
    admin,
    h,
    async close() {
      await h.close();
      await fake.stop();
    },
  };
}

export async function dropboxTask(d: DropboxHarness, name = 'Dropbox backup'): Promise<IBackupTask> {
  const org = await d.h.organization();
  const e = d.h.em();
  return createTask(
    e,
    d.h.deps,
    e.getReference(Organization, org.id),
    {
      service: 'dropbox',
      name,
      connection: { refreshToken: d.fake.grant().refreshToken, teamId: d.fake.team.id, teamName: d.fake.team.name },
      settings: {},
    },
    ACTOR,
  );
}

export async function discover(d: DropboxHarness, taskId: string) {
  const em = d.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  return discoverEntities(em, task, servicePlugin('dropbox') as never, d.h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: d.h.ctx.log,
    now: d.h.clock.now,
  });
}

export async function entity(d: DropboxHarness, taskId: string, name: string) {
  return d.h.em().findOneOrFail(TaskEntity, { task: taskId, name });
}

/** Backs up the named entities (one job each) and returns the jobs. */
export async function backup(d: DropboxHarness, taskId: string, names: string[]) {
  const em = d.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const ids = (await em.find(TaskEntity, { task: taskId, name: { $in: names } })).map((e) => e.id);
  const result = await backupNow(em, task, ids, { kind: 'user', ...ACTOR }, d.h.clock.now, 3);
  await d.h.runner.runUntilIdle();
  d.h.advance(60_000);
  return d.h.em().find(Job, { id: { $in: result.jobIds } });
}

export interface StoredItem {
  kind: string;
  meta: Record<string, unknown>;
  content: string;
}

async function withSnapshot<T>(
  d: DropboxHarness,
  taskId: string,
  entityName: string,
  work: (reader: SnapshotReader) => Promise<T>,
): Promise<T> {
  const em = d.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] });
  const e = await entity(d, taskId, entityName);
  const opened = await d.h.ctx.storage.open({
    id: task.id,
    organizationId: task.organization.id,
    storageLocation: task.storageLocation ?? null,
  });
  try {
    return await work(await SnapshotReader.open(opened.repo, e.lastSnapshotId as string));
  } finally {
    await opened.close();
  }
}

/** The entity's last snapshot: key → kind, meta, content (as text). */
export async function snapshotFiles(
  d: DropboxHarness,
  taskId: string,
  entityName: string,
): Promise<Map<string, StoredItem>> {
  return withSnapshot(d, taskId, entityName, async (reader) => {
    const out = new Map<string, StoredItem>();
    for await (const item of reader.items()) {
      const parts: Buffer[] = [];
      for await (const chunk of reader.content(item)) parts.push(chunk as Buffer);
      out.set(item.key, { kind: item.kind, meta: item.meta ?? {}, content: Buffer.concat(parts).toString() });
    }
    return out;
  });
}

/** Restores the entity's last snapshot (all of it, or the keys given) through the plugin. */
export async function restore(
  d: DropboxHarness,
  taskId: string,
  entityName: string,
  options: Record<string, unknown>,
  target?: EntityRef,
  keys?: (key: string) => boolean,
): Promise<RestoreOutcome> {
  const em = d.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const source = await entity(d, taskId, entityName);
  const plugin = servicePlugin('dropbox');
  if (!plugin) throw new Error('the dropbox plugin is not registered');
  const signal = AbortSignal.timeout(60_000);
  const connection = await plugin.connect(openConnectionSettings(d.h.ctx.credentials, task), {
    signal,
    log: d.h.ctx.log,
  });
  return withSnapshot(d, taskId, entityName, async (reader) => {
    async function* items() {
      for await (const item of reader.items()) {
        if (keys && !keys(item.key)) continue;
        yield {
          key: item.key,
          kind: item.kind,
          size: item.size,
          meta: item.meta ?? {},
          content: () => reader.content(item),
        };
      }
    }
    const outcome = await connection.restore?.({
      entity: { externalId: source.externalId, name: source.name, kind: source.kind },
      destination: target ?? { externalId: source.externalId, name: source.name, kind: source.kind },
      mode: options.mode === 'in_place' ? 'in_place' : 'non_destructive',
      folderName: restoredFolderName(new Date(String(options.restoredAt ?? new Date().toISOString()))),
      items: items(),
      options: {},
      related: async () => undefined,
      apiUsageLimitPercent: null,
      signal,
      step: () => undefined,
      log: d.h.ctx.log,
      // Dropbox changes nothing that needs undoing.
      recovery: { register: () => Promise.reject(new Error('not expected')) },
    });
    if (!outcome) throw new Error('the dropbox connection cannot restore');
    return outcome;
  });
}

/** A namespace's files and folders as "path_display" → content ("/" for folders). */
export function tree(ns: Namespace, under = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const node of ns.list(under.toLowerCase(), true)) {
    out.set(node.pathDisplay.slice(under.length), node.tag === 'folder' ? '/' : node.content.toString());
  }
  return out;
}

/** 255 bytes in UTF-8 (Dropbox's longest name): 2-byte characters and ASCII. */
export const LONG_NAME = `${'é'.repeat(100)}${'x'.repeat(51)}.txt`;

/**
 * A member whose files have awkward names: accents, emoji, CJK, mixed case (Dropbox is
 * case-insensitive, so case-only differences live in different folders), a 255-byte name, empty
 * folders and a 0-byte file.
 */
export function seedAwkwardNames(fake: FakeDropbox, email: string): Member {
  const m = fake.team.addMember({ email });
  const ns = m.namespace;
  ns.writeFile('/Ünïcödé/Résumé – final.txt', Buffer.from('résumé'));
  ns.writeFile('/Emoji 😀🎉/party 🥳.md', Buffer.from('🎉'));
  ns.writeFile('/Reports/Q1.TXT', Buffer.from('upper'));
  ns.writeFile('/reports-2/q1.txt', Buffer.from('lower'));
  ns.writeFile('/CamelCase/MiXeD.Doc', Buffer.from('mixed'));
  ns.writeFile(`/Long/${LONG_NAME}`, Buffer.from('long'));
  ns.mkdir('/Empty');
  ns.mkdir('/Nested/Empty Inside');
  ns.writeFile('/Zero/empty.bin', Buffer.alloc(0));
  ns.writeFile('/日本語/ファイル.txt', Buffer.from('nihongo'));
  return m;
}
