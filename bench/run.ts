// `npm run bench`: runs every benchmark and prints its figures. Timings are for reading by
// people; no test asserts them.
import { benchApi } from './api.ts';
import { benchCatalog } from './catalog.ts';
import { benchHttp } from './http.ts';
import { benchPortal } from './portal.ts';
import { benchRecords } from './records.ts';
import { benchRepository } from './repository.ts';
import { benchSinks } from './sinks.ts';
import { benchStartup } from './startup.ts';

console.log(`Holdfast benchmarks — node ${process.version}, ${new Date().toISOString()}`);
await benchStartup();
await benchHttp();
await benchPortal();
await benchApi();
await benchRepository();
await benchCatalog();
await benchRecords();
await benchSinks();
