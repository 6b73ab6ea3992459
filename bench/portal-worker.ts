// One of the appliance processes of `BENCH_PORTAL_PROCESSES` (bench/portal.ts): opens the kernel
// on the seeded data folder the parent names (the same SQLite database in WAL mode, as two
// server processes of one appliance would share it), signs in, and on the parent's word runs its
// share of the concurrent users against one page, answering every request's time and the CPU
// this process spent. The parent starts all processes' rounds at once and pools their figures.
import { loadConfig } from '../config/load.ts';
import { createApp } from '../core/app.ts';
import { openKernel } from '../core/appliance.ts';
import { createLogger } from '../core/logging.ts';
import { openAccount, signInOperator } from './portal.ts';

interface Round {
  kind: 'warm' | 'go';
  path: string;
  who: 'operator' | 'customer' | 'partner';
  users: number;
  rounds: number;
}

const send = (message: unknown) => (process.send as (m: unknown) => void)(message);
const [dataDir, failingAccount, partnerAccount] = process.argv.slice(2) as [string, string, string];
const config = loadConfig({ env: { HOLDFAST_DATA_DIR: dataDir, HOLDFAST_LOG_LEVEL: 'silent' } });
const kernel = await openKernel(config, createLogger('silent'));
kernel.deps.setupState.complete = true;
const app = createApp(kernel.deps);
const cookies = {
  operator: await signInOperator(app),
  customer: await openAccount(app, failingAccount),
  partner: await openAccount(app, partnerAccount),
};

process.on('message', async (message: Round | 'close') => {
  if (message === 'close') {
    await kernel.close();
    process.exit(0);
  }
  const cookie = cookies[message.who];
  if (message.kind === 'warm') {
    await (await app.request(message.path, { headers: { cookie } })).arrayBuffer();
    send({ kind: 'warm' });
    return;
  }
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: message.users }, async () => {
      for (let i = 0; i < message.rounds; i++) {
        const t = performance.now();
        const res = await app.request(message.path, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${message.path}: ${res.status}`);
        samples.push(performance.now() - t);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  send({ kind: 'done', samples, cpuMs: (used.user + used.system) / 1000 });
});
send({ kind: 'ready' });
