// The restore clean-up at start across nodes: two nodes starting at once (separate connection
// pools, separate lease owners) undo each step a dead restore left once between them, not once
// each, and both let their job runners claim only after the steps are listed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../core/db/database.ts';
import type { ServicePlugin } from '../../../core/plugins/service.ts';
import { leaseOwner, runAlone } from '../../../core/scheduler/singleton.ts';
import { PluginRecoveryStep } from '../../../core/tasks/entities.ts';
import { startRestoreCleanUp } from '../../../core/tasks/startup-clean-up.ts';
import { TEST_SERVICE_KIND } from '../../fakes/test-service.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

let h: JobsHarness;
beforeAll(async () => {
  h = await createJobsHarness();
});
afterAll(async () => {
  await h.close();
});

describe('restore clean-up at start, several nodes', () => {
  it('undoes each step a dead restore left once when two nodes start together', async () => {
    const org = await h.organization('Clean-up race');
    const task = await h.task(org);
    // Three steps of a restore job whose row is gone (it died with its node, and was purged since).
    const stepIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = crypto.randomUUID();
      stepIds.push(id);
      await h.em().insert(PluginRecoveryStep, {
        id,
        task: task.id,
        jobId: crypto.randomUUID(),
        pluginKind: TEST_SERVICE_KIND,
        payload: { describe: `switch automation ${i} back on` },
        createdAt: h.clock.now,
        attempts: 0,
      } as never);
    }
    // The service's undo takes a moment, so the two rounds would overlap if nothing kept them apart.
    const undone: string[] = [];
    const base = h.ctx.services(TEST_SERVICE_KIND) as ServicePlugin;
    const plugin: ServicePlugin = {
      ...base,
      recover: async (_connection, payload) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        undone.push(String(payload.describe));
      },
    };
    const otherNode = await openDatabase(h.app.kernel.deps.config);
    try {
      const start = (em: typeof h.app.kernel.orm.em) => {
        const owner = leaseOwner();
        return startRestoreCleanUp({
          em,
          credentials: h.ctx.credentials,
          services: (kind) => (kind === TEST_SERVICE_KIND ? plugin : undefined),
          log: h.ctx.log,
          now: () => new Date(),
          guard: (round) =>
            runAlone(
              { em: () => em.fork(), name: 'restore-clean-up', owner, ttlMs: 60_000, now: () => new Date() },
              round,
            ),
        });
      };
      const [a, b] = await Promise.all([start(h.app.kernel.orm.em), start(otherNode.em)]);
      await Promise.all([a.done, b.done]);
    } finally {
      await otherNode.close();
    }
    expect(undone.sort()).toEqual([
      'switch automation 0 back on',
      'switch automation 1 back on',
      'switch automation 2 back on',
    ]);
    expect(await h.em().count(PluginRecoveryStep, { id: { $in: stepIds } })).toBe(0);
  });
});
