import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, unknownEnvNames } from '../../../config/load.ts';
import { configProblemsOf as problemsOf, tempDir } from '../../helpers/config.ts';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

describe('loadConfig', () => {
  it('gives the embedded defaults: port 8080, SQLite and local storage under ./data', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/holdfast' });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/srv/holdfast/data');
    expect(config.databasePath).toBe('/srv/holdfast/data/holdfast.sqlite');
    expect(config.storageDir).toBe('/srv/holdfast/data/storage');
    expect(config.masterKeyFile).toBe('/srv/holdfast/data/master.key');
    expect(config.logLevel).toBe('info');
    expect(config.trustedProxies).toEqual([]);
    expect(config.shutdownTimeoutMs).toBe(8000);
  });

  it('reads HOLDFAST_* variables and coerces their types', () => {
    const config = loadConfig({
      env: {
        HOLDFAST_PORT: '9090',
        HOLDFAST_TRUSTED_PROXIES: '10.0.0.1, 192.168.0.0/16',
        HOLDFAST_DATA_DIR: 'var/hf',
        HOLDFAST_STORAGE_DIR: '/mnt/backups',
        HOLDFAST_PUBLIC_URL: 'https://backup.example.com/',
      },
      cwd: '/opt',
    });
    expect(config.port).toBe(9090);
    expect(config.trustedProxies).toEqual(['10.0.0.1', '192.168.0.0/16']);
    expect(config.dataDir).toBe('/opt/var/hf');
    expect(config.databasePath).toBe('/opt/var/hf/holdfast.sqlite');
    expect(config.storageDir).toBe('/mnt/backups');
    expect(config.publicUrl).toBe('https://backup.example.com');
  });

  it('reports one line per problem, naming the variable and the value', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: { HOLDFAST_PORT: 'abc', HOLDFAST_TRUSTED_PROXIES: '10.0.0.0/99', HOLDFAST_PUBLIC_URL: 'ftp://x' },
      }),
    );
    expect(problems).toEqual([
      'HOLDFAST_PORT: must be a whole number from 0 to 65535 (got "abc")',
      'HOLDFAST_PUBLIC_URL: must be an http:// or https:// URL (got "ftp://x")',
      'HOLDFAST_TRUSTED_PROXIES: "10.0.0.0/99" has too long a prefix: an IPv4 block is at most /32. (got "10.0.0.0/99")',
    ]);
  });

  it('reads the node role, both by default, and names the roles there are', () => {
    expect(loadConfig({ env: {} }).nodeRole).toBe('both');
    expect(loadConfig({ env: { HOLDFAST_NODE_ROLE: 'worker' } }).nodeRole).toBe('worker');
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_NODE_ROLE: 'api' } }))).toEqual([
      'HOLDFAST_NODE_ROLE: must be one of web, worker, both (got "api")',
    ]);
  });

  it('rejects out-of-range and fractional numbers', () => {
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_PORT: '70000' } }))[0]).toMatch(/^HOLDFAST_PORT: /);
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_PORT: '80.5' } }))[0]).toMatch(/^HOLDFAST_PORT: /);
  });

  it('never echoes a secret value in a problem', () => {
    const problems = problemsOf(() => loadConfig({ env: { HOLDFAST_MASTER_KEY: 'not-a-real-key-but-secret' } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^HOLDFAST_MASTER_KEY: must be 32 random bytes/);
    expect(problems[0]).not.toContain('not-a-real-key-but-secret');
  });

  it('reads the JSON file named by HOLDFAST_CONFIG, with the environment winning', () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir.path, 'holdfast.json');
    writeFileSync(file, JSON.stringify({ port: 7000, logLevel: 'debug', dataDir: '/var/lib/holdfast' }));
    const config = loadConfig({ env: { HOLDFAST_CONFIG: file, HOLDFAST_LOG_LEVEL: 'warn' } });
    expect(config.port).toBe(7000);
    expect(config.logLevel).toBe('warn');
    expect(config.dataDir).toBe('/var/lib/holdfast');
  });

  it('names the file and the key for problems in the config file', () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir.path, 'holdfast.json');
    writeFileSync(file, JSON.stringify({ port: 'eighty', colour: 'blue' }));
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_CONFIG: file } }))).toEqual([
      `port (in ${file}): must be a whole number from 0 to 65535 (got "eighty")`,
    ]);
    // Keys the appliance does not read wait for the plugins' settings (plugin-settings.test.ts).
    writeFileSync(file, JSON.stringify({ colour: 'blue' }));
    expect(loadConfig({ env: { HOLDFAST_CONFIG: file } }).unclaimed).toEqual({
      env: {},
      file: { colour: 'blue' },
      filePath: file,
    });
  });

  it('explains an unreadable or malformed config file', () => {
    const dir = tempDir();
    dirs.push(dir);
    const missing = join(dir.path, 'missing.json');
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_CONFIG: missing } }))).toEqual([
      `HOLDFAST_CONFIG: cannot read ${missing} (ENOENT)`,
    ]);
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, '{ port: 1 ');
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_CONFIG: bad } }))[0]).toMatch(/is not valid JSON/);
    writeFileSync(bad, '[1, 2]');
    expect(problemsOf(() => loadConfig({ env: { HOLDFAST_CONFIG: bad } }))[0]).toMatch(/must hold a JSON object/);
  });

  it('lists HOLDFAST_ variables no setting reads', () => {
    expect(unknownEnvNames({ HOLDFAST_PROT: '1', HOLDFAST_PORT: '1', HOME: '/root' })).toEqual(['HOLDFAST_PROT']);
  });
});
