// What a thread holds is what it imported: every module stays in its isolate's heap for good, and
// the server's thread and every job worker each load their own copy. These run Node itself (not
// Vitest's module runner) on the server's and the job worker's entry modules and list the
// packages they load, so a library only some requests or jobs use stays out of them
// (bench/README.md, Salesforce: peak RSS).
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** The packages (node_modules folders) Node loads for `script`, run as an ES module in `root`. */
function packagesLoaded(script: string): Set<string> {
  const hook = `
    import { registerHooks } from 'node:module';
    const loaded = new Set();
    registerHooks({ load(url, context, next) { loaded.add(url); return next(url, context); } });
    process.on('exit', () => {
      const names = new Set();
      for (const url of loaded) {
        const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(url);
        if (m) names.add(m[1]);
      }
      process.stdout.write(JSON.stringify([...names]));
    });
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `${hook}\n${script}\nprocess.exit(0);`], {
    cwd: root,
    encoding: 'utf8',
    // The compile cache the appliance uses (core/memory-flags.ts): sources stripped and compiled once.
    env: { ...process.env, NODE_OPTIONS: '', NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') },
  });
  return new Set(JSON.parse(out) as string[]);
}

const ON_FIRST_USE = [
  'pdfkit',
  'nodemailer',
  'qrcode',
  '@node-saml/node-saml',
  'xml-crypto',
  '@xmldom/xmldom',
  'prom-client',
  'openpgp',
];
const POSTGRESQL = ['pg', '@mikro-orm/postgresql'];
// Each test starts Node on much of the kernel: seconds on a loaded machine.
const SLOW = { timeout: 120_000 };

describe('modules each thread loads', () => {
  it(
    'the server loads pdfkit, nodemailer, qrcode, OpenPGP.js, the SAML libraries, prom-client and, on SQLite, the PostgreSQL driver only when used',
    SLOW,
    () => {
      const loaded = packagesLoaded(`
      await import('./core/appliance.ts');
      const { ormOptions } = await import('./config/orm.ts');
      await ormOptions({ databasePath: ':memory:', databaseBusyTimeoutMs: 1000 });
    `);
      expect(loaded.has('hono')).toBe(true);
      expect(loaded.has('@mikro-orm/sqlite')).toBe(true);
      expect(loaded.has('@mikro-orm/migrations')).toBe(true);
      for (const name of [...ON_FIRST_USE, ...POSTGRESQL])
        expect({ name, loaded: loaded.has(name) }).toEqual({ name, loaded: false });
    },
  );

  it(
    "a job worker's kernel loads neither the PostgreSQL driver nor migrations on SQLite, nor the server's libraries",
    SLOW,
    () => {
      const loaded = packagesLoaded(`
      await import('./core/job-kinds.ts');
      await import('./core/jobs/run-job.ts');
      await import('./core/plugins/registry.ts');
      await import('./core/storage-locations/task-storage.ts');
      const { ormOptions } = await import('./config/orm.ts');
      await ormOptions({ databasePath: ':memory:', databaseBusyTimeoutMs: 1000 }, { migrations: false });
    `);
      expect(loaded.has('@mikro-orm/sqlite')).toBe(true);
      for (const name of [...ON_FIRST_USE, ...POSTGRESQL, '@mikro-orm/migrations', 'hono', 'nunjucks']) {
        expect({ name, loaded: loaded.has(name) }).toEqual({ name, loaded: false });
      }
    },
  );

  it('PostgreSQL settings load its driver and its migrations', SLOW, () => {
    const loaded = packagesLoaded(`
      const { ormOptions } = await import('./config/orm.ts');
      const options = await ormOptions({ databasePath: '', databaseBusyTimeoutMs: 1000, databaseUrl: 'postgres://u@127.0.0.1:1/db' });
      if (!options.migrations?.migrationsList?.length) throw new Error('no migrations');
    `);
    expect(loaded.has('@mikro-orm/postgresql')).toBe(true);
    expect(loaded.has('@mikro-orm/migrations')).toBe(true);
  });

  it('the Salesforce plugin loads jsforce without its Streaming API', SLOW, () => {
    const loaded = packagesLoaded(`
      const { SalesforceApi } = await import('./plugins/services/salesforce/session.ts');
      if (typeof SalesforceApi !== 'function') throw new Error('no SalesforceApi');
    `);
    expect(loaded.has('@jsforce/jsforce-node')).toBe(true);
    expect(loaded.has('faye')).toBe(false);
  });
});
