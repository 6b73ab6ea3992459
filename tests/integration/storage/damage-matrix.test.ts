// The damage matrix of issue 14: for each kind of damage, verify, restore, backup and prune name
// the damaged object and everything else keeps working; the repair command(s) for it heal the
// repository (verify --read-data clean, restores equal the source minus exactly the named items).
// The outcome table in docs/REPOSITORY.md ("Damage and repair") says what each cell asserts.
//
// One repository (three snapshots of a changing folder, two keys) is built once through the
// `holdfast repo` CLI and copied per case; it is created through the API only to get small packs
// (many of them, so one damaged pack costs a few files, not all).
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { Repository } from '../../../storage/repository.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { flipByte, openLocal } from '../../helpers/damage.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { describeTree } from '../../helpers/source-tree.ts';

const SECOND = 'a second passphrase for the matrix';

const env = (passphrase = PASSPHRASE, extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  HOLDFAST_REPO_PASSPHRASE: passphrase,
  ...extra,
});
const cli = (args: string[], passphrase?: string, extra?: Record<string, string>) =>
  runToEnd(['core/cli.ts', 'repo', ...args], env(passphrase, extra));

type Tree = Record<string, string>;

interface Base {
  dir: string;
  src: string;
  repo: string;
  /** The snapshots, oldest first, and the folder as each one saw it. */
  snapshots: { id: string; tree: Tree; blobs: Map<string, string[]> }[];
  /** Every indexed blob: its pack, offset and length. */
  where: Map<string, { pack: string; offset: number; length: number; kind: string }>;
  /** The key objects: the first opens with PASSPHRASE, the second with SECOND. */
  keys: [string, string];
  /** The packs each index file names. */
  indexPacks: Map<string, string[]>;
}

let base: Base;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-matrix-'));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'files'), { recursive: true });
  mkdirSync(join(src, 'docs'));
  for (let i = 0; i < 300; i++)
    writeFileSync(join(src, 'files', `f-${String(i).padStart(3, '0')}.bin`), randomBytes(5000 + i * 10));
  for (let i = 0; i < 40; i++) writeFileSync(join(src, 'docs', `note-${i}.txt`), `note ${i}\n`.repeat(i + 1));
  // Larger than the largest chunk (256 KiB with SMALL): several blobs, in more than one pack.
  writeFileSync(join(src, 'big.bin'), randomBytes(1536 * 1024));
  const repoPath = join(dir, 'repo');
  (await Repository.init(new LocalSink({ path: repoPath }), { passphrase: PASSPHRASE, ...SMALL })).close();
  const sink = ['--sink', 'local', '--path', repoPath];
  expect((await cli(['key', 'add', ...sink], PASSPHRASE, { HOLDFAST_REPO_NEW_PASSPHRASE: SECOND })).code).toBe(0);

  const ids: string[] = [];
  const trees: Tree[] = [];
  for (let round = 0; round < 3; round++) {
    if (round > 0) {
      // Each snapshot adds files, changes some and removes one.
      for (let i = 0; i < 20; i++) writeFileSync(join(src, 'files', `r${round}-${i}.bin`), randomBytes(6000));
      writeFileSync(join(src, 'files', `f-00${round}.bin`), randomBytes(6000));
      rmSync(join(src, 'files', `f-29${round}.bin`));
    }
    const done = await cli(['backup', src, ...sink]);
    expect(done.code).toBe(0);
    ids.push(done.stdout.trim());
    trees.push(describeTree(src));
  }

  const repo = await openLocal(repoPath);
  await repo.loadIndex();
  const where: Base['where'] = new Map();
  const snapshots: Base['snapshots'] = [];
  for (const [i, id] of ids.entries()) {
    const blobs = new Map<string, string[]>();
    const reader = await SnapshotReader.open(repo, id);
    for await (const item of reader.items()) {
      blobs.set(item.key, item.content ?? []);
      for (const b of item.content ?? []) {
        const at = repo.locate(b);
        if (at) where.set(b, { pack: at.pack, offset: at.offset, length: at.length, kind: 'data' });
      }
    }
    snapshots.push({ id, tree: trees[i] as Tree, blobs });
  }
  const keys = await repo.listKeys();
  const indexPacks = new Map<string, string[]>();
  for (const file of readdirSync(join(repoPath, 'index')))
    indexPacks.set(
      file,
      (await repo.readIndexFile(`index/${file}`)).packs.map((p) => p.id),
    );
  repo.close();
  // Which key is which: the second opens with SECOND alone.
  const first = [];
  for (const k of keys) {
    const only = join(dir, `key-probe-${k}`);
    cpSync(repoPath, only, { recursive: true });
    for (const other of keys) if (other !== k) rmSync(join(only, 'keys', other));
    first.push({ k, opens: (await cli(['key', 'list', '--sink', 'local', '--path', only])).code === 0 });
    rmSync(only, { recursive: true });
  }
  base = {
    dir,
    src,
    repo: repoPath,
    snapshots,
    where,
    keys: [first.find((x) => x.opens)?.k as string, first.find((x) => !x.opens)?.k as string],
    indexPacks,
  };
}, 300_000);

afterAll(() => {
  if (base) rmSync(base.dir, { recursive: true, force: true });
}, 120_000);

/** A copy of the base repository for one case, in the case's own folder (removed after it). */
function copyRepo(name: string): { path: string; sink: string[] } {
  mkdirSync(join(base.dir, name));
  const path = join(base.dir, name, 'repo');
  cpSync(base.repo, path, { recursive: true });
  return { path, sink: ['--sink', 'local', '--path', path] };
}

const packPath = (repo: string, pack: string) => join(repo, 'data', pack.slice(0, 2), pack);
const indexFiles = (repo: string) => readdirSync(join(repo, 'index'));

/** The keys of a snapshot's items with a blob in `lost`. */
function lostItems(snapshot: Base['snapshots'][number], lost: Set<string>): string[] {
  return [...snapshot.blobs].filter(([, blobs]) => blobs.some((b) => lost.has(b))).map(([key]) => key);
}

function without(tree: Tree, gone: string[]): Tree {
  const out = { ...tree };
  for (const key of gone) delete out[key];
  return out;
}

/** The keys a restore named as failed. */
const failedKeys = (stderr: string) => [...stderr.matchAll(/^failed: (.+?): /gm)].map((m) => m[1] as string).sort();

/** Restores a snapshot; asserts it wrote exactly `expected` minus `lost` and named exactly `lost`. */
async function restoreMinus(sink: string[], id: string, expected: Tree, lost: string[], target: string) {
  const done = await cli(['restore', id, target, ...sink]);
  for (const line of done.stderr.split('\n').filter((l) => l.startsWith('failed: ')))
    expect(line).toMatch(/: (blob [0-9a-f]{64} in )?pack [0-9a-f]{64} /);
  expect(failedKeys(done.stderr), `restore of ${id}: ${done.stderr}`).toEqual([...lost].sort());
  expect(done.code).toBe(lost.length ? 1 : 0);
  expect(describeTree(target)).toEqual(without(expected, lost));
}

interface Damage {
  /** Text that names the damaged object, in verify's (and the other commands') output. */
  named: string;
  /** Blobs whose only copy is gone. */
  lostBlobs: Set<string>;
  /** Found by verify without --read-data too. */
  structural: boolean;
  /** false: verify --read-data names it as a note, not a problem (nothing is lost). */
  problem?: boolean;
  /** The damaged pack (for `repair packs`). */
  pack?: string;
}

interface Case {
  name: string;
  damage(path: string): Damage;
  /** What prune exits with before the repair (1: a snapshot cannot be read, so it keeps all data). */
  pruneCode?: number;
  /** The index of a snapshot whose file is damaged. */
  snapshotGone?: number;
  /** The new backup warns, naming the damaged object. */
  backupWarns?: boolean;
  /** More checks on the damaged repository, and after the repair. */
  whileDamaged?(sink: string[]): Promise<void>;
  afterRepair?(sink: string[]): Promise<void>;
  /** The repair commands, run in order, with their exit codes. */
  repair: { args: string[]; code: number }[];
}

/** A data pack holding small files' blobs only (not big.bin's). */
function smallFilesPack(): string {
  const big = new Set(base.snapshots[0]?.blobs.get('big.bin'));
  const packs = new Map<string, boolean>();
  for (const [blob, at] of base.where) packs.set(at.pack, (packs.get(at.pack) ?? true) && !big.has(blob));
  return [...packs].find(([, small]) => small)?.[0] as string;
}
const blobsIn = (pack: string) => new Set([...base.where].filter(([, at]) => at.pack === pack).map(([b]) => b));

/** Salvage what reads from the pack, drop what used the rest, remove what no snapshot uses. */
const packRepair = [
  { args: ['repair', 'packs', '<damaged pack>'], code: 0 },
  { args: ['repair', 'snapshots', '--forget'], code: 0 },
  { args: ['prune', '--grace-hours', '0'], code: 0 },
];

const cases: Case[] = [
  {
    name: 'a byte flipped in pack data',
    damage: (path) => {
      const blob = base.snapshots[0]?.blobs.get('files/f-100.bin')?.[0] as string;
      const at = base.where.get(blob) as { pack: string; offset: number; length: number };
      flipByte(packPath(path, at.pack), at.offset + Math.floor(at.length / 2));
      return { named: blob, lostBlobs: new Set([blob]), structural: false, pack: at.pack };
    },
    repair: packRepair,
  },
  {
    name: 'a byte flipped in a pack header',
    damage: (path) => {
      const pack = smallFilesPack();
      flipByte(packPath(path, pack), 10);
      return {
        named: `DAMAGED TAR HEADER pack ${pack} at byte 0`,
        lostBlobs: new Set(),
        structural: false,
        problem: false,
        pack,
      };
    },
    repair: [{ args: ['repair', 'packs', '<damaged pack>'], code: 0 }],
  },
  {
    name: 'a byte flipped in an index file',
    backupWarns: true,
    damage: (path) => {
      const file = indexFiles(path)[0] as string;
      flipByte(join(path, 'index', file));
      return { named: `index/${file}`, lostBlobs: new Set(), structural: true };
    },
    repair: [{ args: ['rebuild-index'], code: 0 }],
  },
  {
    name: 'a byte flipped in a snapshot file',
    backupWarns: true,
    damage: (path) => {
      const id = base.snapshots[1]?.id as string;
      flipByte(join(path, 'snapshots', id));
      return { named: `snapshot ${id}`, lostBlobs: new Set(), structural: true };
    },
    snapshotGone: 1,
    pruneCode: 1,
    repair: [
      { args: ['repair', 'snapshots', '--forget'], code: 0 },
      { args: ['prune', '--grace-hours', '0'], code: 0 },
    ],
  },
  {
    name: 'a byte flipped in a key file',
    damage: (path) => {
      flipByte(join(path, 'keys', base.keys[1]));
      return { named: `keys/${base.keys[1]}`, lostBlobs: new Set(), structural: true };
    },
    // The second passphrase opened only the damaged key file: it is named, and nothing else opens.
    whileDamaged: async (sink) => {
      const second = await cli(['snapshots', ...sink], SECOND);
      expect(second.code).toBe(4);
      expect(second.stderr).toContain(`key file keys/${base.keys[1]} is damaged`);
      expect(second.stderr).toContain('cannot be opened without it');
      expect((await cli(['snapshots', ...sink])).code).toBe(0);
    },
    repair: [{ args: ['key', 'remove', '<damaged key>'], code: 0 }],
    // `key add` (opened by the intact key) gives the second passphrase a key file again.
    afterRepair: async (sink) => {
      expect((await cli(['key', 'add', ...sink], PASSPHRASE, { HOLDFAST_REPO_NEW_PASSPHRASE: SECOND })).code).toBe(0);
      expect((await cli(['snapshots', ...sink], SECOND)).code).toBe(0);
    },
  },
  {
    name: 'a pack deleted',
    backupWarns: true,
    damage: (path) => {
      const pack = smallFilesPack();
      rmSync(packPath(path, pack));
      return { named: pack, lostBlobs: blobsIn(pack), structural: true, pack };
    },
    // Prune changes nothing while an indexed pack is missing, and says which.
    pruneCode: 1,
    repair: [
      { args: ['rebuild-index'], code: 0 },
      { args: ['repair', 'snapshots', '--forget'], code: 0 },
      { args: ['prune', '--grace-hours', '0'], code: 0 },
    ],
  },
  {
    name: 'a pack truncated',
    backupWarns: true,
    damage: (path) => {
      // The pack of a file the folder no longer has: prune cannot drop it after the next backup,
      // so `repair packs` salvages it.
      const pack = base.where.get(base.snapshots[0]?.blobs.get('files/f-291.bin')?.[0] as string)?.pack as string;
      const file = packPath(path, pack);
      const half = Math.floor(readFileSync(file).length / 2);
      truncateSync(file, half);
      const lost = new Set(
        [...blobsIn(pack)].filter((b) => (base.where.get(b)?.offset ?? 0) + (base.where.get(b)?.length ?? 0) > half),
      );
      return { named: pack, lostBlobs: lost, structural: true, pack };
    },
    repair: packRepair,
  },
  {
    name: 'an index file deleted',
    damage: (path) => {
      const file = indexFiles(path)[0] as string;
      rmSync(join(path, 'index', file));
      return { named: `pack ${base.indexPacks.get(file)?.[0]}`, lostBlobs: new Set(), structural: true };
    },
    repair: [{ args: ['rebuild-index'], code: 0 }],
  },
  {
    name: 'every index file deleted',
    damage: (path) => {
      const files = indexFiles(path);
      for (const file of files) rmSync(join(path, 'index', file));
      return { named: `pack ${base.indexPacks.get(files[0] as string)?.[0]}`, lostBlobs: new Set(), structural: true };
    },
    repair: [{ args: ['rebuild-index'], code: 0 }],
  },
];

interface Listed {
  id: string;
  original?: string;
  tags?: string[];
}

describe('the damage matrix', () => {
  for (const c of cases) {
    it(`${c.name}: named by verify, restore, backup and prune; everything else works; repair heals it`, {
      timeout: 600_000,
    }, async () => {
      const slug = c.name.replace(/\W+/g, '-');
      const { path, sink } = copyRepo(slug);
      const d = c.damage(path);
      const log: string[] = [];
      const run = async (args: string[], passphrase?: string) => {
        const r = await cli(args, passphrase);
        log.push(`$ ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
        return r;
      };
      const target = (what: string) => join(base.dir, slug, what);
      const final = base.snapshots[2] as Base['snapshots'][number];
      try {
        if (c.whileDamaged) await c.whileDamaged(sink);
        // verify: the damaged object is named (structure, or only when the data is read back).
        const [verify, readData] = await Promise.all([
          run(['verify', ...sink]),
          run(['verify', '--read-data', ...sink]),
        ]);
        expect(readData.stdout).toContain(d.named);
        expect(readData.code).toBe(d.problem === false ? 0 : 5);
        if (d.structural) expect(verify.stdout).toContain(d.named);
        expect(verify.code).toBe(d.structural ? 5 : 0);

        // restore: each snapshot, minus exactly the items whose blobs are lost, each named.
        await Promise.all(
          base.snapshots.map(async (s, i) => {
            if (i === c.snapshotGone) {
              const r = await run(['restore', s.id, target(`restore-${i}`), ...sink]);
              expect(r.code).toBe(1);
              expect(r.stderr).toContain(s.id);
              return;
            }
            await restoreMinus(sink, s.id, s.tree, lostItems(s, d.lostBlobs), target(`restore-${i}`));
          }),
        );

        // backup: a new snapshot of the folder, restored whole (a blob verify or a restore found
        // damaged is recorded, so the backup stores its content again rather than dedup against it).
        const backup = await run(['backup', base.src, ...sink]);
        expect(backup.code).toBe(0);
        if (c.backupWarns) expect(backup.stderr).toMatch(new RegExp(`warning: .*${d.named.replace(/^snapshot /, '')}`));
        const fresh = backup.stdout.trim();
        await restoreMinus(sink, fresh, final.tree, [], target('fresh'));

        // prune: works, or (a snapshot cannot be read) keeps all data and says why.
        const prune = await run(['prune', '--grace-hours', '0', ...sink]);
        expect(prune.code).toBe(c.pruneCode ?? 0);
        if (c.pruneCode) expect(prune.stderr).toContain(d.named);

        // repair, then: verify --read-data clean, every snapshot (or its repaired copy) restores
        // the source minus exactly the named items, and a new backup restores whole.
        for (const step of c.repair) {
          const args = step.args.map((a) =>
            a === '<damaged key>' ? base.keys[1] : a === '<damaged pack>' ? (d.pack as string) : a,
          );
          expect((await run([...args, ...sink])).code).toBe(step.code);
        }
        const clean = await run(['verify', '--read-data', ...sink]);
        expect(clean.code).toBe(0);
        expect(clean.stdout).not.toMatch(/PROBLEM|ORPHAN|DAMAGED/);
        const listed = JSON.parse((await run(['snapshots', '--json', ...sink])).stdout) as Listed[];
        const after = (id: string) => listed.find((l) => l.id === id || l.original === id);
        // A backup that knew the blobs lost (their pack missing or truncated, or found damaged)
        // stored the folder's copies again, which heals every snapshot that uses the same content.
        const stored = new Set([...final.blobs.values()].flat());
        const lostForGood = new Set([...d.lostBlobs].filter((b) => !stored.has(b)));
        await Promise.all(
          [...base.snapshots.map((s, i) => ({ s, i })), { s: { ...final, id: fresh }, i: 3 }].map(async ({ s, i }) => {
            const now = after(s.id);
            if (i === c.snapshotGone) return expect(now).toBeUndefined();
            const lost = i === 3 ? [] : lostItems(s, lostForGood);
            expect(now?.id === s.id).toBe(lost.length === 0);
            await restoreMinus(sink, now?.id as string, without(s.tree, lost), [], target(`repaired-${i}`));
          }),
        );
        const healed = await run(['backup', base.src, ...sink]);
        expect(healed.code).toBe(0);
        await restoreMinus(sink, healed.stdout.trim(), final.tree, [], target('healed'));
        if (c.afterRepair) await c.afterRepair(sink);
      } catch (err) {
        // The commands' output tells what went wrong.
        console.log(log.join('\n'));
        throw err;
      } finally {
        rmSync(join(base.dir, slug), { recursive: true, force: true });
      }
    });
  }
});

describe('the only key file damaged', () => {
  it('names the key file and says the repository cannot be opened without it', { timeout: 120_000 }, async () => {
    const { path, sink } = copyRepo('only-key');
    rmSync(join(path, 'keys', base.keys[1]));
    flipByte(join(path, 'keys', base.keys[0]));
    for (const args of [['snapshots'], ['verify'], ['restore', base.snapshots[0]?.id as string, join(path, 'x')]]) {
      const r = await cli([...args, ...sink]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`key file keys/${base.keys[0]} is damaged`);
      expect(r.stderr).toContain('the repository cannot be opened without it');
    }
  });
});
