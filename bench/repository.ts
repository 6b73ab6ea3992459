// Backup repository benchmark: a generated tree (many small files, large incompressible files,
// compressible text) backed up to the local sink, backed up again after changing about 1% of it,
// and restored — each as a whole `holdfast repo` process, next to restic (Debian's `restic`
// package) on the same data and the same disk. Prints MB/s, files/s, bytes stored and peak RSS,
// and the Holdfast/restic ratios. Sizes: BENCH_LARGE_MB (default 600), BENCH_TEXT_MB (100),
// BENCH_SMALL_FILES (5000). First backups run BENCH_RUNS (5) times in pairs with restic, of the whole
// tree and of its large incompressible files alone, into fresh repositories: medians and ranges.
// Then the small-files case: a copy of a node_modules folder (BENCH_SMALL_TREE, default this
// project's) backed up and restored BENCH_RUNS times in pairs with restic; BENCH_SMALL_ONLY=1 runs
// only that case.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from './stats.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const LARGE_MB = Number(process.env.BENCH_LARGE_MB ?? 600);
const TEXT_MB = Number(process.env.BENCH_TEXT_MB ?? 100);
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 5000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'benchmark passphrase';

function incompressible(path: string, bytes: number, seed: string): void {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  const block = Buffer.alloc(4 * 1024 * 1024);
  writeFileSync(path, '');
  for (let left = bytes; left > 0; left -= block.length)
    appendFileSync(path, cipher.update(left >= block.length ? block : block.subarray(0, left)));
}

function text(path: string, bytes: number, seed: number): void {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${seed + i},Account ${i % 9973},${['Energy', 'Retail', 'Banking', 'Media'][i % 4]},${(i * 7919) % 100000}.00,2026-0${(i % 9) + 1}-1${i % 10}\n`;
    lines.push(line);
    size += line.length;
    if (lines.length === 10000) {
      appendFileSync(path, lines.join(''));
      lines.length = 0;
    }
  }
  appendFileSync(path, lines.join(''));
}

export function generate(dir: string): { files: number; bytes: number } {
  mkdirSync(join(dir, 'media'), { recursive: true });
  mkdirSync(join(dir, 'exports'), { recursive: true });
  const large = 3;
  for (let i = 0; i < large; i++)
    incompressible(join(dir, 'media', `video-${i}.mp4`), Math.floor((LARGE_MB * 1048576) / large), `large ${i}`);
  text(join(dir, 'exports', 'accounts.csv'), TEXT_MB * 1048576, 0);
  for (let i = 0; i < SMALL_FILES; i++) {
    const sub = join(dir, 'docs', `d${i % 50}`);
    if (i < 50) mkdirSync(sub, { recursive: true });
    writeFileSync(
      join(sub, `note-${i}.txt`),
      i % 2 ? randomBytes(1000 + (i % 19) * 1000) : `memo ${i}\n`.repeat(100 + (i % 200)),
    );
  }
  return measure(dir);
}

/** Changes about 1% of the data: 1 MiB in the middle of each large file, some small files. */
function change(dir: string): void {
  for (let i = 0; i < 3; i++) {
    const path = join(dir, 'media', `video-${i}.mp4`);
    const fd = openSync(path, 'r+');
    writeSync(fd, randomBytes(1048576), 0, 1048576, Math.floor(statSync(path).size / 2));
    closeSync(fd);
  }
  for (let i = 0; i < SMALL_FILES; i += 100)
    writeFileSync(join(dir, 'docs', `d${i % 50}`, `note-${i}.txt`), randomBytes(3000));
  appendFileSync(join(dir, 'exports', 'accounts.csv'), 'new,row\n'.repeat(1000));
}

function measure(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const visit = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) visit(join(d, e.name));
      else {
        files++;
        bytes += statSync(join(d, e.name)).size;
      }
    }
  };
  visit(dir);
  return { files, bytes };
}

function du(dir: string): number {
  return Number(spawnSync('du', ['-sb', dir]).stdout.toString().split('\t')[0]);
}

/** Runs a command as a whole process; wall seconds and peak RSS (MiB) from GNU time. */
function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ seconds: number; rssMiB: number; cpuSeconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', cmd, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${stderr}`));
      // Peak RSS (KiB), user and system CPU seconds: the CPU time does not depend on the load.
      const [rss, user, system] = (stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
      resolve({ seconds, rssMiB: (rss ?? 0) / 1024, cpuSeconds: (user ?? 0) + (system ?? 0), stdout });
    });
  });
}

type Timed = { seconds: number; rssMiB: number; cpuSeconds: number };

/** First backups into fresh repositories, Holdfast and restic in turn (which goes first alternates). */
async function firstBackups(
  base: string,
  src: string,
  runs: number,
  hfEnv: Record<string, string>,
): Promise<{ hf: Timed[]; rs: Timed[] }> {
  const hf: Timed[] = [];
  const rs: Timed[] = [];
  for (let i = 0; i < runs; i++) {
    const hfRepo = join(base, `first-hf-${i}`);
    const rsRepo = join(base, `first-rs-${i}`);
    const rsEnv = {
      RESTIC_PASSWORD: PASSWORD,
      RESTIC_REPOSITORY: rsRepo,
      RESTIC_CACHE_DIR: join(base, `first-rc-${i}`),
    };
    const sink = ['--sink', 'local', '--path', hfRepo];
    await run(process.execPath, ['core/cli.ts', 'repo', 'init', ...sink], hfEnv);
    await run('restic', ['init', '--quiet'], rsEnv);
    const hfRun = () =>
      run(
        process.execPath,
        ['core/cli.ts', 'repo', 'backup', src, '--task', 'bench', '--entity', 'first', ...sink],
        hfEnv,
      );
    const rsRun = () => run('restic', ['backup', src, '--quiet'], rsEnv);
    if (i % 2 === 0) {
      hf.push(await hfRun());
      rs.push(await rsRun());
    } else {
      rs.push(await rsRun());
      hf.push(await hfRun());
    }
    for (const dir of [hfRepo, rsRepo, rsEnv.RESTIC_CACHE_DIR]) rmSync(dir, { recursive: true, force: true });
  }
  return { hf, rs };
}

function printFirstBackups(label: string, mb: number, r: { hf: Timed[]; rs: Timed[] }): void {
  const f = (s: { min: number; median: number; max: number }, digits = 0) =>
    `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  const ratios = r.hf.map((h, i) => (r.rs[i] as Timed).seconds / h.seconds);
  console.log(
    `${label.padEnd(30)} holdfast ${f(summarize(r.hf.map((h) => mb / h.seconds)))} MB/s, peak RSS ${f(summarize(r.hf.map((h) => h.rssMiB)))} MiB | ` +
      `restic ${f(summarize(r.rs.map((h) => mb / h.seconds)))} MB/s, ${f(summarize(r.rs.map((h) => h.rssMiB)))} MiB | speed ratio ${f(summarize(ratios), 2)}x`,
  );
}

/**
 * Many small files (a node_modules copy): first backup and restore into fresh repositories and
 * folders, Holdfast and restic in turn (which goes first alternates); one line each with medians.
 */
async function smallFiles(base: string, hfEnv: Record<string, string>): Promise<void> {
  const src = join(base, 'small');
  const from = process.env.BENCH_SMALL_TREE ?? join(root, 'node_modules');
  if (spawnSync('cp', ['-a', from, src]).status !== 0) throw new Error(`cannot copy ${from}`);
  const data = measure(src);
  const backups = { hf: [] as Timed[], rs: [] as Timed[] };
  const restores = { hf: [] as Timed[], rs: [] as Timed[] };
  for (let i = 0; i < RUNS; i++) {
    const hfRepo = join(base, `small-hf-${i}`);
    const rsEnv = {
      RESTIC_PASSWORD: PASSWORD,
      RESTIC_REPOSITORY: join(base, `small-rs-${i}`),
      RESTIC_CACHE_DIR: join(base, `small-rc-${i}`),
    };
    const sink = ['--sink', 'local', '--path', hfRepo];
    await run(process.execPath, ['core/cli.ts', 'repo', 'init', ...sink], hfEnv);
    await run('restic', ['init', '--quiet'], rsEnv);
    const pair = async (hfStep: () => Promise<Timed & { stdout: string }>, rsStep: () => Promise<Timed>) => {
      if (i % 2 === 0) return { hf: await hfStep(), rs: await rsStep() };
      const rs = await rsStep();
      return { hf: await hfStep(), rs };
    };
    const backup = await pair(
      () => run(process.execPath, ['core/cli.ts', 'repo', 'backup', src, ...sink], hfEnv),
      () => run('restic', ['backup', src, '--quiet'], rsEnv),
    );
    backups.hf.push(backup.hf);
    backups.rs.push(backup.rs);
    const hfOut = join(base, `small-hf-out-${i}`);
    const rsOut = join(base, `small-rs-out-${i}`);
    const restore = await pair(
      () => run(process.execPath, ['core/cli.ts', 'repo', 'restore', backup.hf.stdout.trim(), hfOut, ...sink], hfEnv),
      () => run('restic', ['restore', 'latest', '--target', rsOut, '--quiet'], rsEnv),
    );
    restores.hf.push(restore.hf);
    restores.rs.push(restore.rs);
    for (const dir of [hfRepo, rsEnv.RESTIC_REPOSITORY, rsEnv.RESTIC_CACHE_DIR, hfOut, rsOut])
      rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\nSmall files: ${data.files} files, ${(data.bytes / 1048576).toFixed(0)} MiB (a copy of ${from}), ${RUNS} pairs: median (min–max); ratios per pair`,
  );
  const f = (values: number[], digits = 1) => {
    const s = summarize(values);
    return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  };
  for (const [label, r] of [
    ['first backup', backups],
    ['restore', restores],
  ] as const) {
    console.log(
      `${label.padEnd(14)} holdfast ${f(r.hf.map((h) => h.seconds))} s, ${f(
        r.hf.map((h) => h.rssMiB),
        0,
      )} MiB | restic ${f(r.rs.map((h) => h.seconds))} s, ${f(
        r.rs.map((h) => h.rssMiB),
        0,
      )} MiB | speed ratio ${f(
        r.hf.map((h, i) => (r.rs[i] as Timed).seconds / h.seconds),
        2,
      )}x, RSS ratio ${f(
        r.hf.map((h, i) => h.rssMiB / (r.rs[i] as Timed).rssMiB),
        2,
      )}x; CPU holdfast ${f(r.hf.map((h) => h.cpuSeconds))} s, restic ${f(r.rs.map((h) => h.cpuSeconds))} s, ratio ${f(
        r.hf.map((h, i) => h.cpuSeconds / (r.rs[i] as Timed).cpuSeconds),
        2,
      )}x`,
    );
  }
}

export async function benchRepository(): Promise<void> {
  if (spawnSync('restic', ['version']).status !== 0) {
    console.log('\nRepository benchmark needs restic for its baseline: apt-get install -y restic');
    return;
  }
  const base = mkdtempSync(join(tmpdir(), 'holdfast-bench-repo-'));
  const hfEnv = { HOLDFAST_REPO_PASSPHRASE: PASSWORD };
  if (process.env.BENCH_SMALL_ONLY === '1') {
    try {
      await smallFiles(base, hfEnv);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
    return;
  }
  try {
    const src = join(base, 'src');
    const data = generate(src);
    const mb = data.bytes / 1048576;
    // First backups, paired and repeated: the whole tree, then its large incompressible files alone.
    const mixed = await firstBackups(base, src, RUNS, hfEnv);
    const media = await firstBackups(base, join(src, 'media'), RUNS, hfEnv);

    const hfRepo = join(base, 'holdfast');
    const rsRepo = join(base, 'restic');
    const rsEnv = {
      RESTIC_PASSWORD: PASSWORD,
      RESTIC_REPOSITORY: rsRepo,
      RESTIC_CACHE_DIR: join(base, 'restic-cache'),
    };
    const hf = (args: string[]) =>
      run(process.execPath, ['core/cli.ts', 'repo', ...args, '--sink', 'local', '--path', hfRepo], hfEnv);
    const rs = (args: string[]) => run('restic', [...args, '--quiet'], rsEnv);
    await hf(['init']);
    await rs(['init']);

    const rows: [
      string,
      { seconds: number; rssMiB: number },
      { seconds: number; rssMiB: number },
      number,
      number,
      number,
    ][] = [];
    const hf1 = await hf(['backup', src, '--task', 'bench', '--entity', 'src']);
    const hfAfter1 = du(hfRepo);
    const rs1 = await rs(['backup', src]);
    const rsAfter1 = du(rsRepo);
    rows.push(['first backup', hf1, rs1, mb, hfAfter1, rsAfter1]);

    change(src);
    const changed = measure(src);
    const hf2 = await hf(['backup', src, '--task', 'bench', '--entity', 'src']);
    const rs2 = await rs(['backup', src]);
    rows.push([
      'second backup (~1% changed)',
      hf2,
      rs2,
      changed.bytes / 1048576,
      du(hfRepo) - hfAfter1,
      du(rsRepo) - rsAfter1,
    ]);

    const hfOut = join(base, 'hf-restore');
    const rsOut = join(base, 'rs-restore');
    const hf3 = await hf(['restore', hf2.stdout.trim(), hfOut]);
    const rs3 = await rs(['restore', 'latest', '--target', rsOut]);
    rows.push(['restore', hf3, rs3, changed.bytes / 1048576, 0, 0]);

    console.log(
      `\nRepository, local sink: ${data.files} files, ${mb.toFixed(0)} MiB (${LARGE_MB} MiB incompressible, ${TEXT_MB} MiB text, ${SMALL_FILES} small files); restic ${spawnSync('restic', ['version']).stdout.toString().split(' ')[1]}`,
    );
    console.log(`first backups, ${RUNS} pairs: median (min–max); speed ratio = restic time / holdfast time per pair`);
    printFirstBackups('whole tree', mb, mixed);
    printFirstBackups('large incompressible files', measure(join(src, 'media')).bytes / 1048576, media);
    console.log('one run of each step, in one repository:');
    console.log(
      'step                           holdfast MB/s  files/s  RSS MiB  stored MiB |  restic MB/s  RSS MiB  stored MiB | speed ratio',
    );
    for (const [label, h, r, size, hStored, rStored] of rows) {
      const hRate = size / h.seconds;
      const rRate = size / r.seconds;
      console.log(
        `${label.padEnd(30)} ${hRate.toFixed(0).padStart(13)} ${(data.files / h.seconds).toFixed(0).padStart(8)} ${h.rssMiB.toFixed(0).padStart(8)} ${(hStored / 1048576).toFixed(1).padStart(11)} | ${rRate.toFixed(0).padStart(11)} ${r.rssMiB.toFixed(0).padStart(8)} ${(rStored / 1048576).toFixed(1).padStart(11)} | ${(hRate / rRate).toFixed(2)}x`,
      );
    }
    await smallFiles(base, hfEnv);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchRepository();
