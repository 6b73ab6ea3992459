// `npm run bench`: runs every benchmark and prints its figures. Timings are for reading by
// people; no test asserts them.
import { benchHttp } from './http.ts';
import { benchRepository } from './repository.ts';
import { benchStartup } from './startup.ts';

console.log(`Holdfast benchmarks — node ${process.version}, ${new Date().toISOString()}`);
await benchStartup();
await benchHttp();
await benchRepository();
