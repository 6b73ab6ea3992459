// `npm start` in a terminal: the appliance prints a start-up banner and readable log lines, not
// JSON. A pseudo-terminal comes from util-linux `script`, so stdout is a real TTY.
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { STEP_TIMEOUT_MS } from '../helpers/budgets.ts';
import { tempDir } from '../helpers/config.ts';
import { testPostgresUrl } from '../helpers/postgres.ts';
import { baseEnv, repoRoot } from '../helpers/process.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe('appliance on a terminal', () => {
  it('prints the banner with the setup address and human-readable logs', async () => {
    const child = spawn('script', ['-qfec', `${process.execPath} core/main.ts`, '/dev/null'], {
      cwd: repoRoot,
      env: { ...baseEnv(dir.path), TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const banner = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner:\n${out}`)), STEP_TIMEOUT_MS);
      child.stdout.on('data', (d) => {
        out += String(d);
        if (/to create the administrator/.test(out)) {
          clearTimeout(timer);
          resolve(out);
        }
      });
      child.once('exit', () => reject(new Error(`exited before the banner:\n${out}`)));
    });
    child.kill('SIGTERM');
    await exited;
    // ANSI colours removed: the assertions are about the words.
    const plain = stripVTControlCharacters(banner);
    expect(plain).toMatch(/Holdfast \d+\.\d+\.\d+/);
    expect(plain).toMatch(/open http:\/\/127\.0\.0\.1:\d+\/setup to create the administrator/);
    expect(plain).toContain(dir.path);
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: generated a new appliance master key/m);
    // A PostgreSQL test database is a copy of the migrated template: nothing left to migrate.
    if (!testPostgresUrl()) expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: database migrated/m);
    expect(plain).not.toMatch(/^\{"level"/m);
  });
});
