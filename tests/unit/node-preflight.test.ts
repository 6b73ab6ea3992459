// On an older Node, `npm start` / `npm run demo` used to die with ERR_UNKNOWN_FILE_EXTENSION ".ts".
// The npm scripts now run scripts/check-node.cjs first, and `npm ci` refuses (engine-strict).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const preflight = readFileSync(new URL('scripts/check-node.cjs', root), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  scripts: Record<string, string>;
  engines: { node: string };
};

/** Runs the preflight as a plain script with `process.versions.node` set to `version`. */
function runPreflightAs(version: string): { exitCode: number | undefined; message: string } {
  const lines: string[] = [];
  let exitCode: number | undefined;
  const fakeProcess = {
    versions: { node: version },
    exit(code: number) {
      exitCode = code;
      throw new Error('exit');
    },
  };
  try {
    runInNewContext(preflight, { process: fakeProcess, console: { error: (s: string) => lines.push(s) } });
  } catch (err) {
    if (exitCode === undefined) throw err;
  }
  return { exitCode, message: lines.join('\n') };
}

describe('Node version preflight', () => {
  it('refuses Node 20 with the version found and how to get Node 24', () => {
    const { exitCode, message } = runPreflightAs('20.20.2');
    expect(exitCode).toBe(1);
    expect(message).toContain('Holdfast needs Node.js 24 or newer (found 20.20.2)');
    expect(message).toContain('https://nodejs.org/');
    expect(message).toContain('nvm install 24');
  });

  it('lets Node 24 and later through silently', () => {
    expect(runPreflightAs('24.0.0')).toEqual({ exitCode: undefined, message: '' });
    expect(runPreflightAs('26.1.0')).toEqual({ exitCode: undefined, message: '' });
  });

  it('passes on the Node running the tests, as a real process', () => {
    const out = execFileSync(process.execPath, [new URL('scripts/check-node.cjs', root).pathname], {
      encoding: 'utf8',
    });
    expect(out).toBe('');
  });

  it('runs before every npm script that starts the TypeScript sources', () => {
    for (const name of ['start', 'demo', 'dev', 'holdfast', 'bench', 'config:docs']) {
      expect([name, pkg.scripts[name]?.startsWith('node scripts/check-node.cjs && ')]).toEqual([name, true]);
    }
  });

  it('makes npm ci refuse an older Node (engine-strict with engines.node >=24)', () => {
    expect(pkg.engines.node).toBe('>=24');
    expect(readFileSync(new URL('.npmrc', root), 'utf8')).toMatch(/^engine-strict=true$/m);
  });
});
