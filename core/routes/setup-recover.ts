// The setup page's other way: "Recover an existing appliance". Shown only while setup is not
// complete; runs `holdfast dr restore` (core/cli-dr.ts) as a child process with the storage
// location and the recovery material given here, so the catalog rebuild runs outside the server
// (docs/REPOSITORY.md, Catalog). The key file this fresh appliance generated at its first start is
// replaced by the recovered one, so the appliance must be restarted afterwards; the page says so.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Context, Hono } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderPage } from '../http/page.ts';
import { sinkPlugins } from '../plugins/registry.ts';
import { formFields } from './forms.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const REFUSED = 4;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runRestore(args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'dr', 'restore', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI's own sentences ("holdfast: …"), without log lines. */
const sentences = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('holdfast: '))
    .map((l) => l.slice('holdfast: '.length));

export function setupRecoverRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const kinds = sinkPlugins.map((p) => p.kind).join(', ');

  const form = (
    c: Context<AppEnv>,
    values: Record<string, string>,
    errors: Record<string, string>,
    status: 200 | 422 = 200,
  ) =>
    renderPage(
      c,
      deps,
      'pages/setup-recover.njk',
      {
        title: 'Recover an existing appliance',
        values,
        errors,
        kinds,
        focus: ['location', 'masterKey', 'passphrase'].find((f) => errors[f]) ?? 'location',
      },
      status,
    );

  app.get('/setup/recover', (c) => {
    if (deps.setupState.complete) return c.redirect('/login', 303);
    return form(c, { location: '' }, {});
  });

  app.post('/setup/recover', async (c) => {
    if (deps.setupState.complete) return c.redirect('/login', 303);
    const fields = await formFields(c);
    const location = (fields.location ?? '').trim();
    const masterKey = (fields.masterKey ?? '').replace(/\s+/g, '');
    const passphrase = fields.passphrase ?? '';
    const errors: Record<string, string> = {};
    try {
      const parsed = JSON.parse(location) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !('kind' in parsed)) {
        errors.location = `Give the location's settings as a JSON object with its "kind" (${kinds}).`;
      }
    } catch {
      errors.location = `Give the location's settings as JSON, like {"kind": "local", "path": "/backups"}.`;
    }
    if (masterKey && Buffer.from(masterKey, 'base64').length !== 32) {
      errors.masterKey = 'The master key export is 44 characters of base64, as printed on the recovery sheet.';
    } else if (!masterKey && !passphrase) {
      errors.masterKey = 'Enter the master key export from the recovery sheet, or the recovery passphrase.';
    }
    if (Object.keys(errors).length) return form(c, { location }, errors, 422);
    // The inputs go to the child in files only it reads, removed at once after.
    const folder = join(deps.config.dataDir, 'cache', `recover-${randomUUID()}`);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    try {
      const locationFile = join(folder, 'location.json');
      writeFileSync(locationFile, location, { mode: 0o600 });
      const args = ['--location', locationFile, '--replace-unused-key'];
      if (masterKey) {
        const keyFile = join(folder, 'master.key');
        writeFileSync(keyFile, masterKey, { mode: 0o600 });
        args.push('--master-key-file', keyFile);
      }
      // The child recovers into this appliance's folders, whatever the environment says.
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        HOLDFAST_DATA_DIR: deps.config.dataDir,
        HOLDFAST_DATABASE_PATH: deps.config.databasePath,
        HOLDFAST_STORAGE_DIR: deps.config.storageDir,
        HOLDFAST_MASTER_KEY_FILE: deps.config.masterKeyFile,
        HOLDFAST_RECOVERY_PASSPHRASE: masterKey ? '' : passphrase,
      };
      // And into this appliance's database (PostgreSQL's URL may come from elsewhere than the environment).
      if (deps.config.databaseUrl) env.HOLDFAST_DATABASE_URL = deps.config.databaseUrl;
      else delete env.HOLDFAST_DATABASE_URL;
      const outcome = await runRestore(args, env);
      const said = sentences(outcome.stderr);
      if (outcome.code === REFUSED || outcome.code === 2) {
        return form(
          c,
          { location },
          {
            [said[0]?.includes('passphrase') ? 'passphrase' : said[0]?.includes('key') ? 'masterKey' : 'location']:
              said[0] ?? 'The recovery was refused.',
          },
          422,
        );
      }
      c.get('log').warn({ code: outcome.code }, 'appliance recovered from a configuration backup: restart it');
      return renderPage(c, deps, 'pages/setup-recovered.njk', {
        title: 'Appliance recovered',
        ok: outcome.code === 0,
        lines: outcome.stdout.split('\n').filter(Boolean),
        problems: said,
      });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
  return app;
}
