// `npm start`: runs the appliance until SIGTERM/SIGINT.
import { loadConfig, unknownEnvNames } from '../config/load.ts';
import { startAppliance } from './appliance.ts';
import { createLogger } from './logging.ts';
import { exitWithStartupError } from './startup-errors.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    exitWithStartupError(err);
  }
  const log = createLogger(config.logLevel);
  for (const name of unknownEnvNames()) log.warn({ variable: name }, 'unknown HOLDFAST_ setting ignored');

  let appliance: Awaited<ReturnType<typeof startAppliance>>;
  try {
    appliance = await startAppliance(config, log);
  } catch (err) {
    exitWithStartupError(err);
  }
  const { kernel } = appliance;
  log.info(
    { url: appliance.url, port: appliance.port, dataDir: config.dataDir, version: kernel.deps.version },
    kernel.deps.setupState.complete
      ? 'Holdfast is running'
      : `Holdfast is running: open ${appliance.url}/setup to create the first administrator`,
  );

  const shutdown = (signal: string) => {
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
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

await main();
