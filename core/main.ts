// `npm start`: runs the appliance until SIGTERM/SIGINT.
import { loadConfig, unknownEnvNames } from '../config/load.ts';
import { startAppliance } from './appliance.ts';
import { createLogger, terminalLogs } from './logging.ts';
import { pluginEnvNames } from './plugins/registry.ts';
import { announceStart } from './startup-banner.ts';
import { exitWithStartupError } from './startup-errors.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    exitWithStartupError(err);
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

  let appliance: Awaited<ReturnType<typeof startAppliance>>;
  try {
    appliance = await startAppliance(config, log);
  } catch (err) {
    exitWithStartupError(err);
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
