// The repository on the cloud sinks, against their loopback stand-ins (s3rver, azurite): the CLI
// round trip (init, backup, list, restore byte for byte, verify), backups SIGKILLed at random
// points, and a backup that rides out its store being killed and restarted mid-upload.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Sink } from '../../../core/plugins/sink.ts';
import { restoreSnapshot } from '../../../storage/filesystem.ts';
import { Repository } from '../../../storage/repository.ts';
import { verifyRepository } from '../../../storage/verify.ts';
import { AZURITE_ACCOUNT, type LoopbackAzure, startAzurite } from '../../helpers/azurite.ts';
import { killAtRandomWrite, runWatchingWrites } from '../../helpers/kill-points.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';
import { describeTree, makeSource } from '../../helpers/source-tree.ts';

let s3: LoopbackS3;
let azure: LoopbackAzure;
beforeAll(async () => {
  [s3, azure] = await Promise.all([startS3rver(['repositories']), startAzurite()]);
  await azure.createContainer('repositories');
}, 60_000);
afterAll(async () => {
  await Promise.all([s3?.stop(), azure?.stop()]);
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-cloud-repo-'));
  dirs.push(d);
  return d;
}

const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
  HOLDFAST_SINK_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  HOLDFAST_SINK_ACCOUNT_KEY: AZURITE_ACCOUNT.accountKey,
};
const repoCli = (args: string[]) => runToEnd(['core/cli.ts', 'repo', ...args], env);

interface Backend {
  name: string;
  /** The store's folder on disk, where uploads land. */
  directory(): string;
  cliArgs(prefix: string): string[];
  sink(prefix: string): Sink;
}
const backends: Backend[] = [
  {
    name: 's3 (s3rver)',
    directory: () => s3.directory,
    cliArgs: (prefix) => s3.cliArgs(prefix),
    sink: (prefix) => s3.sink({ prefix }),
  },
  {
    name: 'azure (azurite)',
    directory: () => azure.directory,
    cliArgs: (prefix) => azure.cliArgs('repositories', prefix),
    sink: (prefix) => azure.sink('repositories', { prefix }),
  },
];
let prefixes = 0;
const freshPrefix = () => `repo-${process.pid}-${++prefixes}`;

describe.each(backends)('repository on $name', (backend) => {
  it('round trip through the CLI: init, backup twice, list, restore byte for byte, verify, probe', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeSource(src);
    const sink = backend.cliArgs(freshPrefix());
    const probe = await repoCli(['probe', ...sink]);
    expect(probe.stdout).toContain('write, read, list and delete work');
    const init = await repoCli(['init', ...sink]);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const first = await repoCli(['backup', src, ...sink]);
    expect(first.code).toBe(0);
    const second = await repoCli(['backup', src, ...sink]);
    expect(second.stderr).toMatch(/\(6\d unchanged\)/);
    const list = JSON.parse((await repoCli(['snapshots', '--json', ...sink])).stdout) as { id: string }[];
    expect(list.map((s) => s.id)).toEqual([first.stdout.trim(), second.stdout.trim()]);
    const target = join(base, 'restored');
    expect((await repoCli(['restore', first.stdout.trim(), target, ...sink])).code).toBe(0);
    expect(describeTree(target)).toEqual(describeTree(src));
    const verify = await repoCli(['verify', '--read-data', ...sink]);
    expect(verify.stdout).toMatch(/no problems\n$/);
    expect(verify.code).toBe(0);
  });

  it('survives SIGKILL at 4 random points of a backup', { timeout: 300_000 }, async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeSource(src);
    const prefix = freshPrefix();
    await Repository.init(backend.sink(prefix), { passphrase: PASSPHRASE, ...SMALL });
    const args = ['core/cli.ts', 'repo', 'backup', src, ...backend.cliArgs(prefix)];
    // Kill points are drawn from the file-system events a whole backup makes in the store's
    // folder, so each one lands while the backup uploads.
    const clean = await runWatchingWrites(args, env, backend.directory());
    expect(clean.exit).toBe(0);

    for (let round = 0; round < 4; round++) {
      let attempt = 0;
      await killAtRandomWrite(args, env, backend.directory(), clean.events, () => {
        attempt++;
        writeFileSync(join(src, `new-${round}-${attempt}.bin`), randomBytes(400_000 + randomInt(400_000)));
        writeFileSync(join(src, 'docs', `note-${round}.txt`), `changed in round ${round}, run ${attempt}\n`);
      });
      const repo = await Repository.open(backend.sink(prefix), { passphrase: PASSPHRASE });
      expect((await verifyRepository(repo, { readDataPercent: 100 })).problems).toEqual([]);
    }

    const next = await runToEnd(args, env);
    expect(next.code).toBe(0);
    const repo = await Repository.open(backend.sink(prefix), { passphrase: PASSPHRASE });
    const target = join(base, 'final');
    await restoreSnapshot(repo, next.stdout.trim(), target);
    expect(describeTree(target)).toEqual(describeTree(src));
  });
});

describe('a store that dies mid-upload', () => {
  it('s3rver killed and restarted on the same port: the backup retries, commits, and verifies', {
    timeout: 120_000,
  }, async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeSource(src);
    for (let i = 0; i < 24; i++) writeFileSync(join(src, `blob-${i}.bin`), randomBytes(1024 * 1024));
    const prefix = freshPrefix();
    const sink = s3.sink({ prefix });
    await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
    const args = ['core/cli.ts', 'repo', 'backup', src, ...s3.cliArgs(prefix)];
    let finished = false;
    const backup = runToEnd(args, env).finally(() => {
      finished = true;
    });

    // Wait until packs are being uploaded, then take the store away for a moment.
    let packs = 0;
    for (let i = 0; i < 400 && packs < 3; i++) {
      packs = 0;
      for await (const _ of sink.list('data/')) packs++;
      await sleep(25);
    }
    expect(packs).toBeGreaterThanOrEqual(3);
    await s3.kill();
    expect(finished).toBe(false);
    await sleep(1500);
    await s3.restart();

    const result = await backup;
    expect(result.stderr).not.toMatch(/failed/);
    expect(result.code).toBe(0);
    const verify = await repoCli(['verify', '--read-data', ...s3.cliArgs(prefix)]);
    expect(verify.stdout).toMatch(/no problems\n$/);
    const target = join(base, 'restored');
    expect((await repoCli(['restore', result.stdout.trim(), target, ...s3.cliArgs(prefix)])).code).toBe(0);
    expect(describeTree(target)).toEqual(describeTree(src));
    await sink.close();
  });
});
