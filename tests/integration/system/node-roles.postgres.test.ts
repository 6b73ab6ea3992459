// Node roles on one PostgreSQL database (HOLDFAST_NODE_ROLE): a worker node answers health checks
// only and runs jobs; a web node serves the UI and runs none. In multi-node mode (PostgreSQL and a
// split role) every node needs the one master key, and local-disk storage is refused: no new
// local locations, no backups to the built-in one.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernel, type RunningAppliance, startAppliance } from '../../../core/appliance.ts';
import { ValidationError } from '../../../core/errors.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { MasterKeyError } from '../../../core/secrets/master-key.ts';
import { createLocation } from '../../../core/storage-locations/locations.ts';
import {
  multiNodeMode,
  NODE_LOCAL_STORAGE_REFUSED,
  NodeLocalStorageRefusedError,
} from '../../../core/system/node-role.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const dirs = [tempDir(), tempDir(), tempDir()];
/** The first node's database, shared by the others. */
let databaseUrl: string;
const nodes: RunningAppliance[] = [];

function nodeConfig(index: number, env: Record<string, string>) {
  const dir = dirs[index]?.path as string;
  return testConfig(dir, { ...(databaseUrl ? { HOLDFAST_DATABASE_URL: databaseUrl } : {}), ...env });
}

beforeAll(async () => {
  const web = nodeConfig(0, { HOLDFAST_NODE_ROLE: 'web', HOLDFAST_MASTER_KEY: MASTER_KEY });
  databaseUrl = web.databaseUrl as string;
  nodes.push(await startAppliance(web, createLogger('silent')));
  nodes.push(
    await startAppliance(
      nodeConfig(1, { HOLDFAST_NODE_ROLE: 'worker', HOLDFAST_MASTER_KEY: MASTER_KEY }),
      createLogger('silent'),
    ),
  );
});
afterAll(async () => {
  for (const node of nodes) await node.stop();
  for (const dir of dirs) dir.remove();
});

describe('node roles', () => {
  it('a web node serves the UI and runs no jobs; a worker node runs jobs and answers health checks only', async () => {
    const [web, worker] = nodes as [RunningAppliance, RunningAppliance];
    expect(multiNodeMode(web.kernel.deps.config)).toBe(true);
    expect(web.runner).toBeUndefined();
    expect((await fetch(`${web.url}/setup`)).status).toBe(200);

    expect(worker.runner).toBeDefined();
    expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    const page = await fetch(`${worker.url}/setup`);
    expect(page.status).toBe(404);
    expect(await page.json()).toEqual({
      error: 'not_found',
      message: 'This node runs jobs only (HOLDFAST_NODE_ROLE=worker): it answers /healthz and /readyz.',
    });
  });

  it('refuses to start a node in multi-node mode without the shared master key', async () => {
    const config = nodeConfig(2, { HOLDFAST_NODE_ROLE: 'worker' });
    const opening = openKernel(config, createLogger('silent'));
    await expect(opening).rejects.toBeInstanceOf(MasterKeyError);
    await expect(opening).rejects.toThrow(
      `multi-node mode (PostgreSQL with HOLDFAST_NODE_ROLE=worker) needs the same master key on every node: set HOLDFAST_MASTER_KEY, or provide the key file ${config.masterKeyFile} (see docs/OPERATIONS.md)`,
    );
  });

  it('refuses new local-disk locations and backups to the built-in location', async () => {
    const kernel = (nodes[0] as RunningAppliance).kernel;
    const em = kernel.orm.em.fork();
    const id = randomUUID();
    const org = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Multi-node MSP' });
    await em.flush();

    const creating = createLocation(
      { em, credentials: kernel.credentials, storageDir: kernel.deps.config.storageDir, multiNode: true },
      org,
      { name: 'Node disk', kind: 'local', settings: { path: dirs[0]?.path } },
      'json',
      { label: 'admin@msp.example' },
      new Date(),
    );
    await expect(creating).rejects.toBeInstanceOf(ValidationError);
    await expect(creating).rejects.toMatchObject({ fields: { kind: NODE_LOCAL_STORAGE_REFUSED } });

    const opening = kernel.storage.open({ id: randomUUID(), organizationId: org.id, storageLocation: null });
    await expect(opening).rejects.toBeInstanceOf(NodeLocalStorageRefusedError);
    await expect(opening).rejects.toThrow(
      `The storage location "Local disk (built-in)" is on local disk. ${NODE_LOCAL_STORAGE_REFUSED}`,
    );
  });
});
