// Browser tests of a connector: a stand-in of the service's API, the real appliance process
// configured for it with its administrator set up, and a Chromium, for the whole test file.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './browser.ts';
import { tempDir } from './config.ts';
import { setupAdministrator } from './e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from './process.ts';

export interface ConnectorStandIn {
  /** The connector's app settings pointing at the stand-in (HOLDFAST_* variables). */
  env: Record<string, string>;
  stop: () => Promise<void>;
}

export interface ConnectorSession {
  /** The appliance's base URL. */
  url: string;
  /** The appliance's data folder (removed after the file). */
  dataDir: string;
  browser: Browser;
}

/** Starts the stand-in, then the appliance and a browser before the file's tests; stops all after. */
export function connectorSession(startStandIn: () => Promise<ConnectorStandIn>): ConnectorSession {
  const dir = tempDir();
  const session = { dataDir: dir.path } as ConnectorSession;
  let standIn: ConnectorStandIn | undefined;
  let appliance: RunningProcess | undefined;
  beforeAll(async () => {
    standIn = await startStandIn();
    appliance = await startApplianceProcess(
      baseEnv(dir.path, { ...standIn.env, HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1' }),
    );
    session.url = appliance.url;
    await setupAdministrator(appliance.url);
    session.browser = await launchChromium();
  });
  afterAll(async () => {
    await session.browser?.close();
    appliance?.child.kill('SIGTERM');
    await appliance?.exited;
    await standIn?.stop();
    dir.remove();
  });
  return session;
}
