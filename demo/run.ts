// `npm run demo`: the appliance with a demo Dropbox team and a demo Salesforce org, without any
// cloud account. Loopback stand-ins of the Dropbox API (tests/fakes/dropbox) and of Salesforce
// (tests/fakes/salesforce), the same ones the tests drive through the real SDKs, are seeded, and
// the appliance is started with their app keys, secrets and API bases, in a fresh data folder
// (deleted on exit unless HOLDFAST_DATA_DIR names one). Open the URL it prints, create the
// administrator, add a customer account and open it, add a Dropbox or Salesforce backup task there
// (the stand-ins' sign-ins approve at once; what discovery finds is activated automatically),
// Backup now, then browse and restore under Recovery (the README's walk-through).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeDropbox } from '../tests/fakes/dropbox/index.ts';
import { FakeSalesforce, seedDemoMetadata, seedDemoOrg } from '../tests/fakes/salesforce/index.ts';
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
const salesforce = await new FakeSalesforce({
  orgName: 'Northwind Traders (demo)',
  clientId: 'demo-consumer-key',
  clientSecret: 'demo-consumer-secret',
}).start();
seedDemoOrg(salesforce.org, { accounts: 12, contactsPerAccount: 4 });
seedDemoMetadata(salesforce.metadata());
process.stdout.write(
  `Demo Dropbox team at ${dropbox.url}: ${dropbox.team.members.length} members, ${dropbox.team.teamFolders.length} team folders, ${files} files.\n` +
    `Demo Salesforce org at ${salesforce.url}: ${salesforce.org.name} (${salesforce.org.id}), accounts with contacts, opportunities, cases, projects, files and metadata.\n` +
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
    HOLDFAST_SALESFORCE_CLIENT_ID: salesforce.clientId,
    HOLDFAST_SALESFORCE_CLIENT_SECRET: salesforce.clientSecret,
    HOLDFAST_SALESFORCE_LOGIN_URL: salesforce.url,
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
  await salesforce.stop();
  if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
  process.exit(code ?? (signal ? 0 : 1));
});
