// Entry of a job worker thread (a composition root, like appliance.ts): opens its own database
// connection and plugins from the configuration and registers the job kinds once, then runs the
// jobs the main thread sends it ('run' → 'done'; several at once when HOLDFAST_JOBS_PER_THREAD
// allows), so later jobs do not pay for loading the kernel again, nor backups for reading their
// repository's whole index again (storage-locations/repository-pool.ts). A 'shutdown' message
// interrupts the running jobs (they go back to the queue); 'exit', sent only to a thread with no
// job, closes the kept repositories and the connection and ends the thread.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { openDatabase } from './db/database.ts';
import { registerJobKinds } from './job-kinds.ts';
import type { WorkContext } from './jobs/context.ts';
import type { WorkerData, WorkerReply, WorkerRequest } from './jobs/executors.ts';
import { runClaimedJob } from './jobs/run-job.ts';
import { createLogger } from './logging.ts';
import { configureServicePlugins, loadExternalPlugins, servicePlugin } from './plugins/registry.ts';
import { createCredentialCipher } from './secrets/credential-cipher.ts';
import { blobIndexDir, locationTaskStorage } from './storage-locations/task-storage.ts';
import { multiNodeMode } from './system/node-role.ts';

const data = workerData as WorkerData;
const running = new Map<string, AbortController>();
// Sticky: the main thread is stopping, so a job that arrives after the message is interrupted too.
let stopping = false;

async function open(): Promise<WorkContext> {
  const masterKey = Buffer.from(data.masterKey);
  await loadExternalPlugins(data.config.plugins);
  configureServicePlugins(data.config);
  registerJobKinds();
  // No migrator: the server migrated at start-up.
  const orm = await openDatabase(data.config, { migrations: false });
  const credentials = createCredentialCipher(masterKey);
  return {
    orm,
    settings: data.config,
    credentials,
    storage: locationTaskStorage({
      orm,
      credentials,
      storageDir: data.config.storageDir,
      masterKey,
      indexDir: blobIndexDir(data.config),
      multiNode: multiNodeMode(data.config),
      // A backup's repository stays open for the next job of its account (a Salesforce org's
      // objects), brought up to date rather than read again whole; jobs running at once in this
      // thread each take their own (the pool hands a kept repository to one job at a time).
      keepOpen: { idleMs: 60_000, maxAgeMs: 30 * 60_000 },
    }),
    services: servicePlugin,
    log: createLogger(data.config.logLevel).child({ worker: threadId }),
    now: () => new Date(),
  };
}

const ready = open();

function reply(message: WorkerReply): void {
  parentPort?.postMessage(message);
}

async function run(ctx: WorkContext, jobId: string, owner: string): Promise<void> {
  const abort = new AbortController();
  running.set(jobId, abort);
  if (stopping) abort.abort();
  try {
    await runClaimedJob(ctx, jobId, { owner, shutdown: abort.signal });
  } finally {
    running.delete(jobId);
  }
  const memory = process.memoryUsage();
  // Where memory goes (debug): this thread's V8 heap and external buffers, the process's RSS.
  ctx.log.debug({ job: jobId, memory }, 'job worker memory after the job');
  reply({ type: 'done', jobId, heapUsed: memory.heapUsed });
}

parentPort?.on('message', (message: WorkerRequest) => {
  if (message.type === 'shutdown') {
    stopping = true;
    for (const abort of running.values()) abort.abort();
    return;
  }
  void ready.then(async (ctx) => {
    if (message.type === 'run') return run(ctx, message.jobId, message.owner);
    await ctx.storage.close?.();
    await ctx.orm.close();
    parentPort?.close();
  });
});
