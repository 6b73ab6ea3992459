// `npm run demo`: the appliance with a demo Dropbox team, without any cloud account. A loopback
// stand-in of the Dropbox API (tests/fakes/dropbox, the same one the tests drive through the real
// SDK) is seeded with a small team, and the appliance is started with its app key, secret and API
// base, in a fresh data folder (deleted on exit unless HOLDFAST_DATA_DIR names one). Open the URL
// it prints, create the administrator, add a customer account and open it, add a Dropbox backup
// task there (the stand-in's sign-in approves at once; members and team folders are activated
// automatically), Backup now, then browse and restore under Recovery (the README's walk-through).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeDropbox } from '../tests/fakes/dropbox/index.ts';
import { seedDemoTeam } from './team.ts';

const root = join(import.meta.dirname, '..');
const ownDataDir = !process.env.HOLDFAST_DATA_DIR;
const dataDir = process.env.HOLDFAST_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'holdfast-demo-'));

const dropbox = await new FakeDropbox({
  teamName: 'Northwind Traders (demo)',
  appKey: 'demo-app-key',
  appSecret: 'demo-app-secret',
}).start();
const files = seedDemoTeam(dropbox);
process.stdout.write(
  `Demo Dropbox team at ${dropbox.url}: ${dropbox.team.members.length} members, ${dropbox.team.teamFolders.length} team folders, ${files} files.\n` +
    `Data folder: ${dataDir}${ownDataDir ? ' (deleted when the demo stops)' : ''}\n`,
);

const appliance = spawn(process.execPath, [join(root, 'core/main.ts')], {
  stdio: 'inherit',
  env: {
    ...process.env,
    HOLDFAST_DATA_DIR: dataDir,
    HOLDFAST_DROPBOX_APP_KEY: dropbox.appKey,
    HOLDFAST_DROPBOX_APP_SECRET: dropbox.appSecret,
    HOLDFAST_DROPBOX_API_BASE: dropbox.url,
  },
});

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  appliance.kill(signal);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

appliance.on('exit', async (code, signal) => {
  await dropbox.stop();
  if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
  process.exit(code ?? (signal ? 0 : 1));
});
