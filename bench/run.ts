// `npm run bench`: runs every benchmark and prints its figures. Timings are for reading by
// people; no test asserts them.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchApi } from './api.ts';
import { benchBilling } from './billing.ts';
import { benchCatalog } from './catalog.ts';
import { benchDropbox } from './dropbox.ts';
import { benchHttp } from './http.ts';
import { benchPortal } from './portal.ts';
import { benchRepository } from './repository.ts';
import { benchSinks } from './sinks.ts';
import { benchStartup } from './startup.ts';

console.log(`Holdfast benchmarks — node ${process.version}, ${new Date().toISOString()}`);
await benchStartup();
await benchHttp();
await benchPortal();
await benchBilling();
await benchApi();
await benchRepository();
await benchCatalog();
// Records run in their own process, under the memory flags a backup process has, so the peak RSS
// it prints is that of a backup, not of this process after the other benchmarks.
spawnSync(process.execPath, [fileURLToPath(new URL('./records.ts', import.meta.url))], { stdio: 'inherit' });
spawnSync(process.execPath, [fileURLToPath(new URL('./salesforce-compare.ts', import.meta.url))], { stdio: 'inherit' });
await benchSinks();
await benchDropbox();
// Salesforce in its own process: its stand-in holds the 1M-record org in memory (the appliance it
// backs up runs as a process of its own, whose peak RSS it prints).
spawnSync(process.execPath, [fileURLToPath(new URL('./salesforce.ts', import.meta.url))], { stdio: 'inherit' });
spawnSync(process.execPath, [fileURLToPath(new URL('./salesforce-restore.ts', import.meta.url))], { stdio: 'inherit' });
