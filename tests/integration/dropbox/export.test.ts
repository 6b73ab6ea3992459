// Awkward Dropbox names through backup → export: unicode, emoji, CJK, mixed case and a case-only
// rename between two snapshots, a 255-byte name, empty folders and a 0-byte file. The ZIP and the
// TAR of each snapshot are unpacked by the system's own `unzip` and `tar`, and the files on disk
// must equal what Dropbox held then, name for name and byte for byte.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { startExport } from '../../../core/recovery/start.ts';
import { BackupTask, type IBackupTask, type ITaskEntity } from '../../../core/tasks/entities.ts';
import type { Member } from '../../fakes/dropbox/index.ts';
import { tempDir } from '../../helpers/config.ts';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
  LONG_NAME,
  seedAwkwardNames,
  tree,
} from '../../helpers/dropbox.ts';
import { readZip, startContext } from '../../helpers/recovery.ts';

let d: DropboxHarness;
let task: IBackupTask;
let member: Member;
const dir = tempDir();
/** What Dropbox held at each backup: path without the leading "/" → content ("/" for folders). */
const before = new Map<string, string>();
const after = new Map<string, string>();
let firstSnapshot: string;
let secondSnapshot: string;

function relativeTree(ns: Member['namespace']): Map<string, string> {
  return new Map([...tree(ns)].map(([path, content]) => [path.slice(1), content]));
}

beforeAll(async () => {
  d = await createDropboxHarness(11);
  member = seedAwkwardNames(d.fake, 'una@acme.example');
  task = await dropboxTask(d);
  await discover(d, task.id);
  const [first] = await backup(d, task.id, ['una@acme.example']);
  expect(first?.state).toBe('succeeded');
  for (const [k, v] of relativeTree(member.namespace)) before.set(k, v);
  firstSnapshot = (await entity(d, task.id, 'una@acme.example')).lastSnapshotId as string;
  // A case-only rename at Dropbox: the next snapshot has the new spelling, the first keeps the old.
  member.namespace.remove('/CamelCase/MiXeD.Doc');
  member.namespace.writeFile('/CamelCase/mixed.doc', Buffer.from('mixed'));
  const [second] = await backup(d, task.id, ['una@acme.example']);
  expect(second?.state).toBe('succeeded');
  for (const [k, v] of relativeTree(member.namespace)) after.set(k, v);
  secondSnapshot = (await entity(d, task.id, 'una@acme.example')).lastSnapshotId as string;
  expect(secondSnapshot).not.toBe(firstSnapshot);
}, 60_000);

afterAll(async () => {
  await d.close();
  dir.remove();
});

async function exportOf(snapshotId: string, format: 'zip' | 'tar'): Promise<string> {
  const em = d.h.em();
  const fresh = await em.findOneOrFail(BackupTask, { id: task.id });
  const org = await em.findOneOrFail(Organization, { id: fresh.organization.id });
  const source = (await entity(d, task.id, 'una@acme.example')) as ITaskEntity;
  const started = await startExport(startContext(d.h, org), {
    taskId: task.id,
    entityId: source.id,
    snapshotId,
    format,
  });
  await d.h.runner.runUntilIdle();
  const job = await d.h.em().findOneOrFail(Job, { id: started.id });
  expect(job.state).toBe('succeeded');
  const result = await d.h.em().findOneOrFail(ExportResult, { job: started.id });
  return result.filePath;
}

/** A folder on disk as relative path → content ("/" for folders), with each file's mtime. */
function diskTree(root: string): { files: Map<string, string>; mtimes: Map<string, number> } {
  const files = new Map<string, string>();
  const mtimes = new Map<string, number>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const full = join(folder, name);
      const path = relative(root, full);
      if (statSync(full).isDirectory()) {
        files.set(path, '/');
        walk(full);
      } else {
        files.set(path, readFileSync(full, 'utf8'));
        mtimes.set(path, Math.floor(statSync(full).mtimeMs / 1000));
      }
    }
  };
  walk(root);
  return { files, mtimes };
}

function unpack(archive: string, format: 'zip' | 'tar', into: string): void {
  mkdirSync(into, { recursive: true });
  if (format === 'tar') execFileSync('tar', ['-xf', archive, '-C', into]);
  else execFileSync('unzip', ['-q', archive, '-d', into], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
}

/** Dropbox's client_modified of each file, in whole seconds since the epoch. */
function dropboxMtimes(expected: Map<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [path, content] of expected) {
    if (content === '/') continue;
    const node = member.namespace.get(`/${path}`.toLowerCase());
    if (node?.tag === 'file') out.set(path, Math.floor(Date.parse(node.clientModified) / 1000));
  }
  return out;
}

describe('export of awkward names', () => {
  it('seeds what it means to test', () => {
    expect(Buffer.byteLength(LONG_NAME)).toBe(255);
    expect(before.get(`Long/${LONG_NAME}`)).toBe('long');
    expect(before.get('Zero/empty.bin')).toBe('');
    expect(before.get('Empty')).toBe('/');
    expect(before.get('Nested/Empty Inside')).toBe('/');
    expect(before.has('CamelCase/MiXeD.Doc') && after.has('CamelCase/mixed.doc')).toBe(true);
  });

  for (const format of ['zip', 'tar'] as const) {
    it(`a ${format.toUpperCase()} of each snapshot unpacks to exactly what Dropbox held then`, async () => {
      for (const [snapshot, expected, label] of [
        [firstSnapshot, before, 'first'],
        [secondSnapshot, after, 'second'],
      ] as const) {
        const archive = await exportOf(snapshot, format);
        const into = join(dir.path, `${format}-${label}`);
        unpack(archive, format, into);
        const { files, mtimes } = diskTree(into);
        expect(files).toEqual(expected);
        // The files' modified times are Dropbox's client_modified (second resolution in both formats).
        if (label === 'second') {
          const want = dropboxMtimes(expected);
          for (const [path, seconds] of want)
            expect(Math.abs((mtimes.get(path) ?? 0) - seconds), path).toBeLessThanOrEqual(1);
        }
      }
    });
  }

  it('the ZIP records every name in UTF-8, folders included', async () => {
    const entries = await readZip(await exportOf(secondSnapshot, 'zip'));
    const names = new Map(
      [...entries].map(([name, content]) => [name.replace(/\/$/, ''), name.endsWith('/') ? '/' : content.toString()]),
    );
    expect(names).toEqual(after);
  });
});
