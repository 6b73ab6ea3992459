// Entry of a job worker thread (a composition root, like appliance.ts): opens its own database
// connection and plugins from the configuration, registers the job kinds, runs the one job it was
// given, and exits. A 'shutdown' message from the main
// thread interrupts the job (it goes back to the queue).
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db/database.ts';
import { registerJobKinds } from './job-kinds.ts';
import type { WorkerData } from './jobs/executors.ts';
import { runClaimedJob } from './jobs/run-job.ts';
import { createLogger } from './logging.ts';
import { configureServicePlugins, loadExternalPlugins, servicePlugin } from './plugins/registry.ts';
import { createCredentialCipher } from './secrets/credential-cipher.ts';
import { blobIndexDir, locationTaskStorage } from './storage-locations/task-storage.ts';

const data = workerData as WorkerData;
const shutdown = new AbortController();
parentPort?.on('message', (message: { type?: string }) => {
  if (message?.type === 'shutdown') shutdown.abort();
});

const masterKey = Buffer.from(data.masterKey);
const log = createLogger(data.config.logLevel).child({ worker: data.jobId });
await loadExternalPlugins(data.config.plugins);
configureServicePlugins(data.config);
registerJobKinds();
const orm = await openDatabase(data.config);
const credentials = createCredentialCipher(masterKey);
try {
  await runClaimedJob(
    {
      orm,
      settings: data.config,
      credentials,
      storage: locationTaskStorage({
        orm,
        credentials,
        storageDir: data.config.storageDir,
        masterKey,
        indexDir: blobIndexDir(data.config),
      }),
      services: servicePlugin,
      log,
      now: () => new Date(),
    },
    data.jobId,
    { owner: data.owner, shutdown: shutdown.signal },
  );
} finally {
  await orm.close();
  parentPort?.close();
}
