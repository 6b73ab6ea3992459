// `npm start`: runs the appliance until SIGTERM/SIGINT.
import type { loadConfig as LoadConfig } from '../config/load.ts';
import type { startAppliance as StartAppliance } from './appliance.ts';
import { jobWorkerHeapFlags, reexecWithMemoryFlags } from './memory-flags.ts';

// Backups, restores and exports run in worker threads of this process, which share its V8 flags
// and malloc settings: the same as `holdfast repo` (core/memory-flags.ts), but for the main
// thread's smaller young generation. They can only be set when a process starts, so it
// re-executes itself once (same PID) before loading anything else.
reexecWithMemoryFlags('appliance');
jobWorkerHeapFlags();
const [
  { loadConfig, unknownEnvNames },
  { startAppliance },
  { createLogger, terminalLogs },
  { pluginEnvNames },
  { announceStart },
  { exitWithStartupError },
] = await Promise.all([
  import('../config/load.ts'),
  import('./appliance.ts'),
  import('./logging.ts'),
  import('./plugins/registry.ts'),
  import('./startup-banner.ts'),
  import('./startup-errors.ts'),
]);

async function main(): Promise<void> {
  let config: ReturnType<typeof LoadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    return exitWithStartupError(err);
  }
  const log = createLogger(config.logLevel);

  // Signals are caught from the start: a stop requested during start-up (e.g. while migrating)
  // waits for start-up to finish, then stops cleanly.
  let stopRequested: string | undefined;
  let shutdown = (signal: string) => {
    stopRequested = signal;
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  let appliance: Awaited<ReturnType<typeof StartAppliance>>;
  try {
    appliance = await startAppliance(config, log);
  } catch (err) {
    return exitWithStartupError(err);
  }
  const { kernel } = appliance;
  // After start-up: the plugins loaded by then declare variables of their own.
  for (const name of unknownEnvNames(process.env, pluginEnvNames())) {
    log.warn({ variable: name }, 'unknown HOLDFAST_ setting ignored');
  }
  announceStart(
    log,
    {
      version: kernel.deps.version,
      url: appliance.url,
      port: appliance.port,
      dataDir: config.dataDir,
      setupComplete: kernel.deps.setupState.complete,
    },
    terminalLogs(),
  );

  shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    appliance.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  if (stopRequested) shutdown(stopRequested);
}

await main();
