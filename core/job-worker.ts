// Entry of a job worker thread (a composition root, like appliance.ts): opens its own database
// connection and plugins from the configuration and registers the job kinds once, then runs the
// jobs the main thread sends it one at a time ('run' → 'done'), so consecutive jobs do not pay
// for loading the kernel again, nor backups for reading their repository's whole index again
// (storage-locations/repository-pool.ts). A 'shutdown' message interrupts the running job (it
// goes back to the queue); 'exit' closes the kept repositories and the connection and ends the
// thread.
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
let current: AbortController | undefined;
// Sticky: the main thread is stopping, so a job that arrives after the message is interrupted too.
let stopping = false;
let queue = Promise.resolve();

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
      // One job at a time here: a backup's repository stays open for the next job of its account
      // (a Salesforce org's objects), brought up to date rather than read again whole.
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

parentPort?.on('message', (message: WorkerRequest) => {
  if (message.type === 'shutdown') {
    stopping = true;
    current?.abort();
    return;
  }
  // Requests are handled in order; the executor sends a job only to an idle worker.
  queue = queue.then(async () => {
    const ctx = await ready;
    if (message.type === 'exit') {
      await ctx.storage.close?.();
      await ctx.orm.close();
      parentPort?.close();
      return;
    }
    current = new AbortController();
    if (stopping) current.abort();
    try {
      await runClaimedJob(ctx, message.jobId, { owner: message.owner, shutdown: current.signal });
    } finally {
      current = undefined;
    }
    const memory = process.memoryUsage();
    // Where memory goes (debug): this thread's V8 heap and external buffers, the process's RSS.
    ctx.log.debug({ job: message.jobId, memory }, 'job worker memory after the job');
    reply({ type: 'done', jobId: message.jobId, heapUsed: memory.heapUsed });
  });
});
