// The set-up of browser tests whose data is written in-process before the appliance starts (the
// portal walks, tests/e2e/portal-*.test.ts): a fresh data folder with the operator's setup done
// (ADMIN), the caller's seed given the root organization, then the appliance process and
// Chromium, both closed and the folder removed after the file.
import type { EntityManager } from '@mikro-orm/core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../config/load.ts';
import { openKernel } from '../../core/appliance.ts';
import { type IOrganization, Organization } from '../../core/identity/entities.ts';
import { completeSetup } from '../../core/identity/setup-service.ts';
import { createLogger } from '../../core/logging.ts';
import { launchChromium } from './browser.ts';
import { tempDir } from './config.ts';
import { ADMIN } from './kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from './process.ts';

export type Seed = (em: EntityManager, root: IOrganization) => Promise<void>;

export interface SeededAppliance {
  /** The appliance process (started in beforeAll). */
  readonly appliance: RunningProcess;
  readonly browser: Browser;
}

/** Sets up the appliance and Chromium for the file's tests; read them inside the tests. */
export function useSeededAppliance(seed: Seed): SeededAppliance {
  const dir = tempDir();
  let appliance: RunningProcess | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    await seedDataFolder(dir.path, seed);
    appliance = await startApplianceProcess(baseEnv(dir.path));
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    appliance?.child.kill('SIGTERM');
    await appliance?.exited;
    dir.remove();
  });
  return {
    get appliance() {
      if (!appliance) throw new Error('the appliance starts in beforeAll');
      return appliance;
    },
    get browser() {
      if (!browser) throw new Error('Chromium starts in beforeAll');
      return browser;
    },
  };
}

/** The operator's setup, then `seed`, through a kernel opened on the folder and closed again. */
async function seedDataFolder(dataDir: string, seed: Seed): Promise<void> {
  const config = loadConfig({ env: { HOLDFAST_DATA_DIR: dataDir, HOLDFAST_LOG_LEVEL: 'silent' } });
  const kernel = await openKernel(config, createLogger('silent'));
  try {
    await completeSetup(kernel.orm.em.fork(), {
      organizationName: 'Holdfast Operator',
      email: ADMIN.email,
      password: ADMIN.password,
    });
    const em = kernel.orm.em.fork();
    await seed(em, await em.findOneOrFail(Organization, { kind: 'root' }));
  } finally {
    await kernel.close();
  }
}
