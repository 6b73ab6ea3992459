// Background work one node of a cluster does at a time, with three kernels (connection pools of
// their own, as three nodes have) on one PostgreSQL: a named lease lets one node run a round and
// the others skip it, passes on when its holder frees it or dies, and hands the next holder the
// mark the last left; the hourly housekeeping runs once an hour whichever node ticks; and the
// integration sender delivers every event once to a loopback Splunk collector, with two nodes
// sending while both write events, and with an event that commits after a later one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { type Kernel, openKernel, workContext } from '../../../core/appliance.ts';
import { recordAudit } from '../../../core/audit/audit-service.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { ConfigBackupLoop } from '../../../core/dr/config-backup.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { createIntegration } from '../../../core/integrations/integrations.ts';
import { runIntegrationSender } from '../../../core/integrations/sender.ts';
import { createLogger } from '../../../core/logging.ts';
import { Scheduler } from '../../../core/scheduler/loop.ts';
import { type AloneOptions, runAlone } from '../../../core/scheduler/singleton.ts';
import { ClusterLease } from '../../../core/system/entities.ts';
import { type HecReceiver, startHecReceiver } from '../../helpers/hec-receiver.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const HOUR = 3_600_000;
const log = createLogger('silent');
let h: JobsHarness;
/** Three nodes: the harness's kernel and two more on the same database. */
let nodes: Kernel[];
let hec: HecReceiver;
beforeAll(async () => {
  h = await createJobsHarness({ HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true' });
  const config = h.app.kernel.deps.config;
  nodes = [h.app.kernel, await openKernel(config, log), await openKernel(config, log)];
  hec = await startHecReceiver();
});
afterAll(async () => {
  await hec?.close();
  for (const k of nodes?.slice(1) ?? []) await k.close();
  await h?.close();
});

function node(i: number): Kernel {
  const k = nodes[i];
  if (!k) throw new Error(`no node ${i}`);
  return k;
}

const lease = (i: number, name: string, ttlMs = 60_000): AloneOptions => ({
  em: () => node(i).orm.em.fork(),
  name,
  owner: `node-${i}`,
  ttlMs,
  now: () => h.clock.now,
});

function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('a named lease', () => {
  it('lets one of three nodes run a round while the others skip it, then the next holder', async () => {
    const inRound = gate();
    const release = gate();
    const ran: number[] = [];
    const first = runAlone(lease(0, 'test-round'), async () => {
      ran.push(0);
      inRound.open();
      await release.opened;
      return undefined;
    });
    await inRound.opened;
    const others = await Promise.all(
      [1, 2].map((i) =>
        runAlone(lease(i, 'test-round'), async () => {
          ran.push(i);
          return undefined;
        }),
      ),
    );
    expect(others).toEqual(['skipped', 'skipped']);
    release.open();
    expect(await first).toBe('ran');
    // Freed after the round: the next node to try runs it.
    expect(
      await runAlone(lease(2, 'test-round'), async () => {
        ran.push(2);
        return undefined;
      }),
    ).toBe('ran');
    expect(ran).toEqual([0, 2]);
  });

  it('passes on when its holder died (the lease lapsed), and hands over the mark the last holder left', async () => {
    expect(await runAlone(lease(0, 'marked'), async () => ({ mark: 'fingerprint-1' }))).toBe('ran');
    // Node 1 takes it and dies mid-round: its lease is never freed.
    const em = node(1).orm.em.fork();
    await em.nativeUpdate(
      ClusterLease,
      { name: 'marked' },
      { owner: 'node-1', expiresAt: new Date(h.clock.now.getTime() + 60_000) },
    );
    const seen: (string | undefined)[] = [];
    const round = async (mark: string | undefined) => {
      seen.push(mark);
      return { mark: 'fingerprint-2' };
    };
    expect(await runAlone(lease(2, 'marked'), round)).toBe('skipped');
    h.advance(61_000);
    expect(await runAlone(lease(2, 'marked'), round)).toBe('ran');
    expect(seen).toEqual(['fingerprint-1']);
    expect(await node(0).orm.em.fork().findOneOrFail(ClusterLease, { name: 'marked' })).toMatchObject({
      owner: null,
      mark: 'fingerprint-2',
    });
  });
});

describe('the configuration backup', () => {
  it('is written by one node after a change, and not again by the other nodes that check', async () => {
    const written: string[] = [];
    const loopOf = (i: number) => {
      const k = node(i);
      const recorder = {
        info: (_: unknown, message: string) => written.push(`node-${i}: ${message}`),
        warn: (_: unknown, message: string) => written.push(`node-${i}: ${message}`),
      };
      return new ConfigBackupLoop(
        () => ({
          em: k.orm.em.fork(),
          credentials: k.credentials,
          masterKey: k.masterKey,
          storageDir: k.deps.config.storageDir,
          now: h.clock.now,
        }),
        recorder as never,
        (round) => runAlone(lease(i, 'configuration-backup'), round),
      );
    };
    const loops = [loopOf(0), loopOf(1), loopOf(2)];
    // The first write also makes the appliance's id (a configuration row): settled by the next.
    await loops[0]?.check();
    await loops[0]?.check();
    written.length = 0;
    await loops[1]?.check();
    await loops[2]?.check();
    expect(written).toEqual([]);
    // A change of the settings: the next node to check writes it, the others find it written.
    await h.organization('Configuration changed');
    await loops[2]?.check();
    await loops[0]?.check();
    await loops[1]?.check();
    expect(written).toEqual(['node-2: configuration backup written']);
  });
});

describe('the hourly housekeeping', () => {
  it('runs once an hour across three nodes ticking, whichever node ticks', async () => {
    const org = await h.organization('Housekeeping');
    const schedulers = nodes.map(
      (k, i) => new Scheduler({ ...workContext(k), now: () => h.clock.now }, undefined, `node-${i}`),
    );
    // An activity row past its retention: the housekeeping deletes it when it runs.
    const stale = async () => {
      const em = h.em();
      em.create(ActivityEvent, {
        organization: org.id,
        activity: 'Backup',
        status: 'succeeded',
        at: new Date(h.clock.now.getTime() - 400 * 24 * HOUR),
        summary: 'old',
      } as never);
      await em.flush();
    };
    const staleLeft = () => h.em().count(ActivityEvent, { organization: org.id });
    // The turn starts free (another test may have taken it at an earlier instant).
    await h.em().nativeDelete(ClusterLease, { name: 'housekeeping' });

    await stale();
    expect(await schedulers[0]?.tick()).toBe('ran');
    expect(await staleLeft()).toBe(0);
    await stale();
    for (const s of schedulers.slice(1)) expect(await s.tick()).toBe('ran');
    h.advance(30 * 60_000);
    for (const s of schedulers) expect(await s.tick()).toBe('ran');
    expect(await staleLeft()).toBe(1);
    h.advance(31 * 60_000);
    expect(await schedulers[2]?.tick()).toBe('ran');
    expect(await staleLeft()).toBe(0);
    expect(await h.em().findOneOrFail(ClusterLease, { name: 'housekeeping' })).toMatchObject({ owner: 'node-2' });
  });
});

describe('the integration sender on two nodes', () => {
  async function customerWithSplunk(name: string): Promise<IOrganization> {
    const em = h.em();
    const customer = await makeOrganization(em, await h.organization(`${name} MSP`), 'customer', name);
    await createIntegration(
      h.em(),
      h.ctx.credentials,
      customer,
      { kind: 'splunk', streams: ['audit'], settings: { url: hec.url }, secret: hec.token },
      { allowPrivate: true },
      { label: 'admin@msp.example', id: 'u1' },
      new Date(),
    );
    return customer;
  }
  const audit = (k: Kernel, org: IOrganization, description: string) =>
    recordAudit(k.orm.em.fork(), {
      organization: org,
      activity: 'User added',
      account: org.name,
      description,
      actor: { label: 'admin@msp.example' },
    });
  const deps = (k: Kernel) => ({ orm: k.orm, cipher: k.credentials, settings: k.deps.config, log });
  /** A pass as the appliance runs it: under the sender's lease. */
  const guardedPass = (i: number) =>
    runAlone(lease(i, 'integration-sender'), async () => {
      await runIntegrationSender(deps(node(i)), h.clock.now);
      return undefined;
    });
  const delivered = (org: IOrganization) =>
    hec.events
      .filter((e) => (e.event.organization as { id: string }).id === org.id && e.event.action === 'User added')
      .map((e) => (e.event.details as { description: string }).description);

  it('delivers each of 40 events once while both nodes write events and send', async () => {
    const org = await customerWithSplunk('Two senders');
    const written: string[] = [];
    for (let round = 0; round < 10; round++) {
      const batch = [0, 1, 0, 1].map((n, j) => ({ n, text: `event ${round}-${j}` }));
      written.push(...batch.map((b) => b.text));
      await Promise.all([...batch.map((b) => audit(node(b.n), org, b.text)), guardedPass(0), guardedPass(1)]);
      h.advance(1000);
    }
    // The rest, whoever gets the lease.
    await Promise.all([guardedPass(0), guardedPass(1)]);
    await guardedPass(1);
    const got = delivered(org);
    expect(got.length).toBe(40);
    expect(new Set(got)).toEqual(new Set(written));
  });

  it('does not pass over an event whose transaction commits after a later event', async () => {
    const org = await customerWithSplunk('Late commit');
    // Node 0 inserts an event (its id drawn) and has not committed yet; node 1's later one commits.
    const slow = node(0).orm.em.fork();
    await slow.begin();
    slow.create(AuditEvent, {
      organization: org.id,
      activity: 'User added',
      status: 'completed',
      description: 'committed last',
    } as never);
    await slow.flush();
    try {
      await audit(node(1), org, 'committed first');
      await guardedPass(1);
      // Nothing moved past the open insert: 'committed first' waits for the pass after the commit.
      expect(delivered(org)).toEqual([]);
    } finally {
      await slow.commit();
    }
    await guardedPass(0);
    expect(delivered(org).sort()).toEqual(['committed first', 'committed last']);
    await guardedPass(1);
    expect(delivered(org).length).toBe(2);
  });
});
