// The appliance as a real process: start-up, bad settings, read-only data, graceful shutdown,
// restart, and the headless CLI.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteMigrations } from '../../core/db/migrations/sqlite/index.ts';
import { tempDir } from '../helpers/config.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { testPostgresUrl } from '../helpers/postgres.ts';
import { baseEnv, type RunningProcess, runToEnd, startApplianceProcess } from '../helpers/process.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return dir.path;
}

async function start(dir: string, extra: Record<string, string> = {}): Promise<RunningProcess> {
  const p = await startApplianceProcess(baseEnv(dir, extra));
  cleanups.push(() => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  return p;
}

function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function post(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
    body: formBody(fields),
  });
}

describe('appliance process', () => {
  it('serves the setup page on a fresh data folder', async () => {
    const p = await start(dataDir());
    const res = await fetch(`${p.url}/`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/setup');
    expect(await (await fetch(`${p.url}/setup`)).text()).toContain('Set up Holdfast');
    expect(p.stdout()).toContain('open http');
  });

  it("runs with the repository memory settings, which its jobs' worker threads share", async () => {
    const p = await start(dataDir());
    // Set at process start (a re-execution, same PID): V8 flags hold for every worker thread.
    const cmdline = readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toEqual(expect.arrayContaining(['--max-semi-space-size=8', '--max-old-space-size=1024']));
    // The main thread's smaller young generation, given last (the later flag wins); its job worker
    // threads get 8 again (tests/integration/worker-heap-flags.test.ts).
    expect(cmdline.indexOf('--max-semi-space-size=2')).toBeGreaterThan(cmdline.indexOf('--max-semi-space-size=8'));
    const environ = readFileSync(`/proc/${p.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(expect.arrayContaining(['MALLOC_ARENA_MAX=1', 'MALLOC_MMAP_THRESHOLD_=262144']));
  });

  it("re-executes with Node's compile cache in the OS temp folder, unless it is turned off", async () => {
    const environ = (p: RunningProcess) => readFileSync(`/proc/${p.child.pid}/environ`, 'utf8').split('\0');
    const tmp = dataDir();
    const cached = await start(dataDir(), { TMPDIR: tmp });
    expect(environ(cached)).toContain(`NODE_COMPILE_CACHE=${join(tmp, 'node-compile-cache')}`);
    const off = await start(dataDir(), { NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(environ(off).some((e) => e.startsWith('NODE_COMPILE_CACHE='))).toBe(false);
  });

  it('exits non-zero naming HOLDFAST_PORT when it is not a number', async () => {
    const r = await runToEnd(['core/main.ts'], baseEnv(dataDir(), { HOLDFAST_PORT: 'abc' }));
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      'holdfast: invalid configuration\n  HOLDFAST_PORT: must be a whole number from 0 to 65535 (got "abc")\n',
    );
  });

  it('explains a read-only data folder in one sentence, without a stack trace', async () => {
    const dir = dataDir();
    let r: { code: number | string; stderr: string };
    if (process.getuid?.() === 0) {
      // root ignores file modes: mount a read-only file system over the folder instead.
      const probe = spawnSync('unshare', ['-m', 'true']);
      expect(probe.status, 'unshare -m is needed to test a read-only mount as root').toBe(0);
      r = await runToEnd(
        [
          '-m',
          'sh',
          '-c',
          `mount -t tmpfs -o ro tmpfs "$HOLDFAST_DATA_DIR" && exec "${process.execPath}" core/main.ts`,
        ],
        baseEnv(dir),
        undefined,
        'unshare',
      );
    } else {
      const { chmodSync } = await import('node:fs');
      chmodSync(dir, 0o555);
      cleanups.push(() => chmodSync(dir, 0o755));
      r = await runToEnd(['core/main.ts'], baseEnv(dir));
    }
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(
      new RegExp(
        `^holdfast: ${dir} is not writable: (the file system is read-only \\(EROFS\\)|permission denied \\(EACCES\\))\\. Set HOLDFAST_DATA_DIR to a writable folder\\.\\n$`,
      ),
    );
  });

  it('refuses to replace a lost master key once the appliance has data', async () => {
    const dir = dataDir();
    // Data: an administrator and their organization (on PostgreSQL an organization is what
    // counts; on SQLite the database file already does).
    const first = await runToEnd(
      ['core/cli.ts', 'admin', 'create', '--email', 'ops@example.com'],
      baseEnv(dir),
      `${ADMIN.password}\n`,
    );
    expect(first.code).toBe(0);
    rmSync(join(dir, 'master.key'));
    const r = await runToEnd(['core/main.ts'], baseEnv(dir));
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      `holdfast: the master key file ${join(dir, 'master.key')} is missing, but this appliance already has data. Restore the key file from your backup, or set HOLDFAST_MASTER_KEY (see docs/OPERATIONS.md)\n`,
    );
  });

  it('names HOLDFAST_HOST when it cannot listen there, without a stack trace', async () => {
    const r = await runToEnd(['core/main.ts'], baseEnv(dataDir(), { HOLDFAST_HOST: 'no-such-host.invalid' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^holdfast: cannot listen on address no-such-host\.invalid: \w+ \(HOLDFAST_HOST\)\n$/);
  });

  it('finishes an in-flight request on SIGTERM, refuses new ones, and exits 0', async () => {
    const dir = dataDir();
    const p = await start(dir);
    const { hostname, port } = new URL(p.url);
    const body = formBody({ email: ADMIN.email, password: 'not-the-password-123' });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          hostname,
          port,
          path: '/setup',
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            origin: p.url,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += String(d);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      // Send half the body now: the request is in flight when the signal arrives.
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 700);
    });
    await new Promise((r) => setTimeout(r, 200));
    const signalledAt = Date.now();
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${p.url}/healthz`)).rejects.toThrow();
    const res = await response;
    expect(res.status).toBe(422); // the form was judged: the request completed normally
    expect(await p.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(p.stdout()).toContain('"msg":"stopped"');
  });

  it('keeps the administrator across a restart', async () => {
    const dir = dataDir();
    const first = await start(dir);
    const setup = await post(`${first.url}/setup`, { ...ADMIN, confirmPassword: ADMIN.password });
    expect(setup.headers.get('location')).toBe('/');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await start(dir);
    expect(second.stdout()).not.toContain('generated a new appliance master key');
    const again = await fetch(`${second.url}/setup`, { redirect: 'manual' });
    expect(again.headers.get('location')).toBe('/login');
    const login = await post(`${second.url}/login`, { email: ADMIN.email, password: ADMIN.password });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
  });
});

describe('holdfast CLI', () => {
  it('creates the first administrator headless, once', async () => {
    const dir = dataDir();
    const created = await runToEnd(
      ['core/cli.ts', 'admin', 'create', '--email', 'Ops@Example.com', '--organization', 'Example MSP'],
      baseEnv(dir),
      `${ADMIN.password}\n`,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toBe('Created administrator ops@example.com of "Example MSP".\n');
    // Without --public-url or HOLDFAST_PUBLIC_URL no link can be mailed: it says so.
    expect(created.stderr).toContain('set HOLDFAST_PUBLIC_URL');
    const second = await runToEnd(
      ['core/cli.ts', 'admin', 'create', '--email', 'x@example.com'],
      baseEnv(dir),
      `${ADMIN.password}\n`,
    );
    expect(second.code).toBe(3);
    expect(second.stderr).toContain('setup has already been completed');

    const p = await start(dir);
    const setup = await fetch(`${p.url}/setup`, { redirect: 'manual' });
    expect(setup.headers.get('location')).toBe('/login');
    const login = await post(`${p.url}/login`, { email: 'ops@example.com', password: ADMIN.password });
    expect(login.status).toBe(303);
  });

  // Five CLI processes start at once: on a loaded machine that alone takes tens of seconds.
  it('lets exactly one of several simultaneous headless setups win', { timeout: 90_000 }, async () => {
    const dir = dataDir();
    await runToEnd(['core/cli.ts', 'migrate'], baseEnv(dir));
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        runToEnd(
          ['core/cli.ts', 'admin', 'create', '--email', `admin${i}@example.com`],
          baseEnv(dir),
          `${ADMIN.password}\n`,
        ),
      ),
    );
    expect(results.map((r) => r.code).sort()).toEqual([0, 3, 3, 3]);
    for (const r of results.filter((x) => x.code === 3)) expect(r.stderr).toContain('setup has already been completed');
  });

  it('rejects a weak password and unknown commands with usage exit codes', async () => {
    const dir = dataDir();
    const weak = await runToEnd(
      ['core/cli.ts', 'admin', 'create', '--email', 'a@example.com'],
      baseEnv(dir),
      'short\n',
    );
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain('password: Use at least 12 characters.');
    const noEmail = await runToEnd(['core/cli.ts', 'admin', 'create'], baseEnv(dir));
    expect(noEmail.code).toBe(2);
    expect(noEmail.stderr).toContain('--email');
    const unknown = await runToEnd(['core/cli.ts', 'frobnicate'], baseEnv(dir));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
  });

  it('migrates and checks the configuration', async () => {
    const dir = dataDir();
    const migrated = await runToEnd(['core/cli.ts', 'migrate'], baseEnv(dir));
    expect(migrated.code).toBe(0);
    if (testPostgresUrl()) {
      // A test database on PostgreSQL is a copy of the migrated template (helpers/postgres.ts);
      // PostgreSQL's migration list is checked by db/migrations.postgres.test.ts.
      expect(migrated.stdout).toBe('The database is up to date.\n');
    } else {
      // Every migration, in order (each branch adds its own to the list).
      expect(migrated.stdout).toBe(`Applied ${sqliteMigrations.map((m) => m.name).join(', ')}\n`);
      expect(migrated.stdout).toMatch(/^Applied Migration\d+_kernel, Migration\d+_catalog, Migration\d+_identity, /);
    }
    expect((await runToEnd(['core/cli.ts', 'migrate'], baseEnv(dir))).stdout).toBe('The database is up to date.\n');
    const check = await runToEnd(['core/cli.ts', 'config', 'check'], baseEnv(dir));
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`data folder   ${dir}`);
    const bad = await runToEnd(['core/cli.ts', 'config', 'check'], baseEnv(dir, { HOLDFAST_PORT: '-1' }));
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('HOLDFAST_PORT');
  });
});
