// Acceptance for awkward names end to end on the Dropbox stand-in, driven through the `dropbox`
// SDK: NFC and NFD "café" side by side, an emoji ZWJ sequence, CJK, RTL, a leading space,
// `#%&;'"`, a case-only rename, a 255-byte name, a 12-deep path, empty folders, a 0-byte and a
// 20 MiB file. Backed up, changed at Dropbox (moves, deletes, a case-only rename), backed up again:
// each snapshot holds what Dropbox held then (moves reuse stored content), non-destructive and
// in-place restores bring the first state back, and ZIP and TAR exports unpacked by the system's
// `unzip` and `tar` equal it name byte for name byte. Names Dropbox refuses (a backslash, a trailing
// space) are refused by the stand-in as Dropbox refuses them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Dropbox, DropboxAuth, DropboxResponseError } from 'dropbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { RENAMED_MANIFEST } from '../../../core/recovery/archive.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { startExport, startRestore } from '../../../core/recovery/start.ts';
import type { IBackupTask, ITaskEntity } from '../../../core/tasks/entities.ts';
import { contentHash, type Member, sdkOptions } from '../../fakes/dropbox/index.ts';
import { tempDir } from '../../helpers/config.ts';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
  LONG_NAME,
  snapshotFiles,
  tree,
} from '../../helpers/dropbox.ts';
import { startContext } from '../../helpers/recovery.ts';

const EMAIL = 'awk@acme.example';
const DEEP = `/Deep/${Array.from({ length: 11 }, (_, i) => `level ${i + 1}`).join('/')}/leaf.txt`;
const BIG = Buffer.alloc(20 * 1024 * 1024);
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);

let d: DropboxHarness;
let member: Member;
let dbx: Dropbox;
let task: IBackupTask;
let source: ITaskEntity;
const dir = tempDir();
/** What Dropbox held at each backup: path (no leading "/") → content hash ("/" for folders). */
let first = new Map<string, string>();
let second = new Map<string, string>();
let firstSnapshot = '';
let secondSnapshot = '';

/** The member's Dropbox as relative path → SHA-256-like content hash ("/" for folders). */
function held(under = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, text] of tree(member.namespace, under)) {
    if (text === '/') out.set(path.slice(1), '/');
    else {
      const node = member.namespace.get(`${under}${path}`);
      out.set(path.slice(1), node?.tag === 'file' ? node.contentHash : '?');
    }
  }
  return out;
}

/** A folder on disk as relative path (from the bytes the file system holds) → content hash. */
function onDisk(root: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of readdirSync(join(root, prefix), { encoding: 'buffer' })) {
    const rel = prefix ? `${prefix}/${raw.toString('utf8')}` : raw.toString('utf8');
    const full = join(root, rel);
    if (statSync(full).isDirectory()) {
      out.set(rel, '/');
      for (const [k, v] of onDisk(root, rel)) out.set(k, v);
    } else out.set(rel, contentHash(readFileSync(full)));
  }
  return out;
}

async function organization() {
  return d.h.em().findOneOrFail(Organization, { id: task.organization.id });
}

async function runJob(id: string): Promise<void> {
  d.h.advance(1000);
  await d.h.runner.runUntilIdle();
  const job = await d.h.em().findOneOrFail(Job, { id });
  expect({ state: job.state, error: job.error }).toEqual({ state: 'succeeded', error: null });
}

beforeAll(async () => {
  d = await createDropboxHarness(21);
  member = d.fake.team.addMember({ email: EMAIL });
  const auth = new DropboxAuth({
    clientId: d.fake.appKey,
    clientSecret: d.fake.appSecret,
    refreshToken: d.fake.grant().refreshToken,
    ...sdkOptions(d.fake.url),
  });
  dbx = new Dropbox({ auth, selectUser: member.teamMemberId });
  const files: [string, string | Buffer][] = [
    ['/Awkward/caf\u00e9.txt', 'NFC'],
    ['/Awkward/cafe\u0301.txt', 'NFD'],
    ['/Awkward/👩‍👩‍👧‍👦 family.txt', 'zwj'],
    ['/Awkward/日本語/ファイル.txt', 'cjk'],
    ['/Awkward/עברית/שלום.txt', 'rtl'],
    ['/Awkward/ leading space.txt', 'leading'],
    ['/Awkward/punct/#%&;\'".txt', 'punct'],
    ['/Awkward/CaseOnly.txt', 'case'],
    [`/Awkward/Long/${LONG_NAME}`, 'long'],
    [DEEP, 'deep'],
    ['/Awkward/zero.bin', ''],
    ['/Big/twenty.bin', BIG],
  ];
  for (const [path, contents] of files) await dbx.filesUpload({ path, contents });
  await dbx.filesCreateFolderV2({ path: '/Awkward/Empty' });
  await dbx.filesCreateFolderV2({ path: '/Deep/level 1/Empty inside' });
  task = await dropboxTask(d);
  await discover(d, task.id);
  const [run1] = await backup(d, task.id, [EMAIL]);
  expect(run1?.state).toBe('succeeded');
  first = held();
  source = await entity(d, task.id, EMAIL);
  firstSnapshot = source.lastSnapshotId as string;

  // Changes at Dropbox, as a user makes them: a folder and a file moved, a case-only rename, deletes.
  await dbx.filesMoveV2({ from_path: '/Awkward/punct', to_path: '/Moved/punct' });
  await dbx.filesMoveV2({ from_path: '/Awkward/ leading space.txt', to_path: '/Moved/ leading space.txt' });
  await dbx.filesMoveV2({ from_path: '/Big/twenty.bin', to_path: '/Moved/twenty.bin' });
  await dbx.filesMoveV2({ from_path: '/Awkward/CaseOnly.txt', to_path: '/Awkward/caseonly.TXT' });
  await dbx.filesDeleteV2({ path: '/Awkward/zero.bin' });
  await dbx.filesDeleteV2({ path: '/Awkward/עברית' });
  d.fake.resetCounters();
  const [run2] = await backup(d, task.id, [EMAIL]);
  expect(run2?.state).toBe('succeeded');
  second = held();
  source = await entity(d, task.id, EMAIL);
  secondSnapshot = source.lastSnapshotId as string;
  expect(secondSnapshot).not.toBe(firstSnapshot);
}, 120_000);

afterAll(async () => {
  await d.close();
  dir.remove();
});

describe('awkward names on Dropbox, backed up twice with moves and deletes', () => {
  it('the stand-in refuses what Dropbox refuses: a backslash, a trailing space', async () => {
    for (const path of ['/Awkward/back\\slash.txt', '/Awkward/trailing space ']) {
      const err = await dbx.filesUpload({ path, contents: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DropboxResponseError);
      expect((err as DropboxResponseError<unknown>).error).toMatchObject({
        error: { '.tag': 'path', reason: { '.tag': 'malformed_path' } },
      });
    }
  });

  it('each snapshot holds what Dropbox held then; moved files reuse their stored content', async () => {
    expect(first.get(DEEP.slice(1))).toBeDefined();
    expect(DEEP.split('/').length - 2).toBe(12);
    expect(first.get('Awkward/Empty')).toBe('/');
    expect(second.has('Moved/punct/#%&;\'".txt') && !second.has('Awkward/punct')).toBe(true);
    expect(second.has('Awkward/caseonly.TXT') && !second.has('Awkward/CaseOnly.txt')).toBe(true);
    const stored = await snapshotFiles(d, task.id, EMAIL);
    const latest = new Map(
      [...stored.values()].map((item) => [
        String(item.meta.path).slice(1),
        item.kind === 'folder' ? '/' : String(item.meta.contentHash),
      ]),
    );
    expect(latest).toEqual(second);
    // A move is a deleted entry and the entry at its new path: the content is not read again.
    expect(d.fake.downloadCount()).toBe(0);
  });

  for (const format of ['zip', 'tar'] as const) {
    it(`a ${format.toUpperCase()} export of each snapshot unpacks to exactly what Dropbox held`, async () => {
      for (const [snapshotId, expected, label] of [
        [firstSnapshot, first, 'first'],
        [secondSnapshot, second, 'second'],
      ] as const) {
        const started = await startExport(startContext(d.h, await organization()), {
          taskId: task.id,
          entityId: source.id,
          snapshotId,
          format,
        });
        await runJob(started.id);
        const result = await d.h.em().findOneOrFail(ExportResult, { job: started.id });
        const into = join(dir.path, `${format}-${label}`);
        mkdirSync(into, { recursive: true });
        const env = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
        if (format === 'tar') execFileSync('tar', ['-xf', result.filePath, '-C', into], { env });
        else execFileSync('unzip', ['-q', result.filePath, '-d', into], { env });
        const unpacked = onDisk(into);
        // Nothing needed renaming, so there is no manifest and every name is Dropbox's, byte for byte.
        expect(unpacked.has(RENAMED_MANIFEST)).toBe(false);
        expect(unpacked).toEqual(expected);
      }
    });
  }

  it('a non-destructive restore of the first snapshot recreates it in a "Restored" folder', async () => {
    const started = await startRestore(startContext(d.h, await organization()), {
      taskId: task.id,
      entityId: source.id,
      snapshotId: firstSnapshot,
      mode: 'non_destructive',
    });
    await runJob(started.id);
    const folder = member.namespace.list('', false).find((n) => n.name.startsWith('Restored '));
    if (!folder) throw new Error('no "Restored" folder');
    expect(held(folder.pathDisplay)).toEqual(first);
  });

  it('an in-place restore of the first snapshot brings moved and deleted items back, overwriting nothing', async () => {
    const before = held();
    const started = await startRestore(startContext(d.h, await organization()), {
      taskId: task.id,
      entityId: source.id,
      snapshotId: firstSnapshot,
      paths: ['awkward', 'BIG', 'deep'],
      mode: 'in_place',
    });
    await runJob(started.id);
    const now = held();
    // Everything the first snapshot held is there again (Dropbox compares paths ignoring case).
    const byLower = new Map([...now].map(([path, hash]) => [path.toLowerCase(), hash]));
    for (const [path, hash] of first) expect(byLower.get(path.toLowerCase()), path).toBe(hash);
    // And nothing that was there was changed.
    for (const [path, hash] of before) expect(now.get(path), path).toBe(hash);
  });
});
