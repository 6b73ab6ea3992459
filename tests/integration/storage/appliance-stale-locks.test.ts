// The appliance removes stale locks from its repositories when it starts: a lock left by a
// process of this host that is gone (a killed appliance) must not hold up the next prune.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { currentLockOwner, type LockRecord } from '../../../storage/locks.ts';
import { JOB_ENV, startApplianceWithTask } from '../../helpers/appliance-task.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../../helpers/process.ts';

const dirs: string[] = [];
let running: RunningProcess | undefined;
afterEach(async () => {
  running?.child.kill('SIGTERM');
  await running?.exited;
  running = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('removes the stale locks of its repositories at start, and keeps live ones', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'holdfast-appliance-locks-'));
  dirs.push(dataDir);
  const first = await startApplianceWithTask(dataDir, 'Locks', { account: 'locks', items: 2 });
  await first.backupAndWait();
  const organization = first.admin.organization.id;
  await first.close();

  const locks = join(dataDir, 'storage', 'organizations', organization, 'locks');
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  const record = (pid: number, purpose: string): LockRecord => ({
    ...currentLockOwner(),
    pid,
    kind: 'shared',
    purpose,
    created: new Date().toISOString(),
    expires: new Date(Date.now() + 600_000).toISOString(),
  });
  writeFileSync(join(locks, 'killed-backup'), JSON.stringify(record(child.pid as number, 'backup')));
  writeFileSync(join(locks, 'live-one'), JSON.stringify(record(process.pid, 'restore')));

  running = await startApplianceProcess(baseEnv(dataDir, JOB_ENV));
  const logged = await new Promise<string>((resolve) => {
    const look = () => {
      const line = running
        ?.stdout()
        .split('\n')
        .find((l) => l.includes('stale repository lock'));
      if (line) resolve(line);
    };
    running?.child.stdout?.on('data', look);
    look();
  });
  expect(logged).toContain('"removed":1');
  expect(readdirSync(locks)).toEqual(['live-one']);
});
