// Webhooks end to end against a receiver on loopback (allowed by HOLDFAST_WEBHOOKS_ALLOW_PRIVATE,
// as an operator would for a local receiver): a failed backup is delivered as signed
// `exceptions` and `job.failed` events that verify with the documented algorithm, a receiver
// that answers 500 gets the event again later, once, and the delivery log shows both answers;
// URLs on private networks are refused when saved and when sent to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { sealConnection } from '../../../core/tasks/connection.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { createEndpoint, listDeliveries } from '../../../core/webhooks/endpoints.ts';
import { WebhookEndpoint } from '../../../core/webhooks/entities.ts';
import { runWebhookSender, sendTestEvent, type WebhookDeps } from '../../../core/webhooks/sender.ts';
import { verifySignature } from '../../../core/webhooks/signature.ts';
import testServicePlugin, { type TestServiceInput, VALID_TOKEN } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { makeOrganization } from '../../helpers/tenants.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.ts';

const PUBLIC_URL = 'https://backup.example.test';
let h: JobsHarness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  h = await createJobsHarness({
    HOLDFAST_PUBLIC_URL: PUBLIC_URL,
    HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true',
    HOLDFAST_MAIL_RETRY_BASE_SECONDS: '60',
  });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await receiver?.close();
});

const deps = (allowPrivate = true): WebhookDeps => ({
  orm: h.app.kernel.orm,
  cipher: h.ctx.credentials,
  settings: { ...h.app.kernel.deps.config, webhooksAllowPrivate: allowPrivate },
  log: h.ctx.log,
});
const send = () => runWebhookSender(deps(), h.clock.now);

async function failingTask(org: IOrganization, connection: Partial<TestServiceInput>) {
  const created = await h.task(org, connection);
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: created.id }, { populate: ['organization'] });
  task.name = 'Mailboxes';
  await em.flush();
  await discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const entities = await h.em().find(TaskEntity, { task: task.id });
  await backupNow(
    h.em(),
    task,
    entities.map((e) => e.id),
    { kind: 'user', ...ACTOR },
    h.clock.now,
    3,
  );
  await h.runner.runUntilIdle();
  return task;
}

async function discover(taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] });
  await discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
}

const bodies = (from = 0) => receiver.received.slice(from).map((r) => JSON.parse(r.body));

describe('delivery', () => {
  it('posts signed events to the subscribed endpoints of the organization and those above it', async () => {
    const partner = await h.organization('Signed Partner');
    const customer = await makeOrganization(h.em(), partner, 'customer', 'Signed Customer');
    const allowed = { allowPrivate: true };
    const { secret } = await createEndpoint(
      h.em(),
      h.ctx.credentials,
      partner,
      { url: receiver.url, description: 'NOC', events: ['exceptions', 'job.failed'] },
      allowed,
      h.clock.now,
    );
    // Subscribed to another type only: receives nothing.
    await createEndpoint(
      h.em(),
      h.ctx.credentials,
      customer,
      { url: `${receiver.url}/other`, events: ['recovery'] },
      allowed,
      h.clock.now,
    );
    const from = receiver.received.length;
    const task = await failingTask(customer, { entities: 1, failEntities: ['user-001'] });
    await send();

    const got = receiver.received.slice(from);
    expect(got.map((r) => r.headers['holdfast-event']).sort()).toEqual(['exceptions', 'job.failed']);
    for (const request of got) {
      expect(request.headers['content-type']).toBe('application/json');
      const header = String(request.headers['holdfast-signature']);
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const nowSeconds = Math.floor(h.clock.now.getTime() / 1000);
      expect(verifySignature(secret, header, request.body, nowSeconds)).toBe(true);
      expect(verifySignature(secret, header, `${request.body} `, nowSeconds)).toBe(false);
      expect(verifySignature('whsec_wrong', header, request.body, nowSeconds)).toBe(false);
    }
    const exception = bodies(from).find((b) => b.type === 'exceptions');
    expect(exception).toMatchObject({
      id: expect.stringMatching(/^evt_\d+$/),
      organization: { id: customer.id, name: 'Signed Customer' },
      data: {
        event: 'failed',
        taskId: task.id,
        taskName: 'Mailboxes',
        jobState: 'failed',
        link: `${PUBLIC_URL}/tasks/${task.id}`,
      },
    });
    expect(bodies(from).find((b) => b.type === 'job.failed')?.data).toMatchObject({
      event: 'failed',
      jobKind: 'backup',
    });

    // A second pass sends nothing again.
    await send();
    expect(receiver.received).toHaveLength(from + 2);
  });

  it('retries an event the receiver answered with 500, delivers it once, and the log shows the 500, then the 200', async () => {
    const org = await h.organization('Retry Org');
    const { endpoint } = await createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url: receiver.url, events: ['job.failed'] },
      { allowPrivate: true },
      h.clock.now,
    );
    const from = receiver.received.length;
    receiver.failNext(1, 500);
    await failingTask(org, { entities: 1, failEntities: ['user-001'] });
    await send();
    expect(receiver.received).toHaveLength(from + 1);
    let [log] = await listDeliveries(h.em(), endpoint);
    expect(log).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 500 });
    expect(log?.lastResponse).toContain('receiver error 500');

    // Not due yet: nothing is sent.
    await send();
    expect(receiver.received).toHaveLength(from + 1);

    h.advance(61_000);
    await send();
    await send();
    expect(receiver.received).toHaveLength(from + 2);
    const [first, second] = receiver.received.slice(from);
    expect(second?.body).toBe(first?.body);
    [log] = await listDeliveries(h.em(), endpoint);
    expect(log).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200, lastResponse: 'ok' });
  });

  it('gives up after 24 hours of refusals and marks the delivery Failed', async () => {
    const org = await h.organization('Expiry Org');
    const { endpoint } = await createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url: receiver.url, events: ['job.failed'] },
      { allowPrivate: true },
      h.clock.now,
    );
    receiver.failNext(100, 503);
    await failingTask(org, { entities: 1, failEntities: ['user-001'] });
    await send();
    let [log] = await listDeliveries(h.em(), endpoint);
    expect(log).toMatchObject({ status: 'pending', lastStatus: 503 });
    for (let pass = 0; pass < 60 && log?.status === 'pending'; pass++) {
      await send();
      h.advance(3_600_000);
      [log] = await listDeliveries(h.em(), endpoint);
    }
    receiver.clearFailures();
    expect(log).toMatchObject({ status: 'failed', lastStatus: 503 });
    expect(log?.attempts).toBeGreaterThan(10);
  });
});

describe('events added to a flush', () => {
  it('delivers a discovery, queued with the entities discovery recorded', async () => {
    const org = await h.organization('Discovery Org');
    await createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url: receiver.url, events: ['discovery'] },
      { allowPrivate: true },
      h.clock.now,
    );
    const task = await h.task(org, { entities: 1 });
    await discover(task.id);
    const from = receiver.received.length;
    const account = `acct-${org.id.slice(0, 8)}`;
    const em = h.em();
    const saved = await em.findOneOrFail(BackupTask, { id: task.id });
    saved.connection = sealConnection(
      h.ctx.credentials,
      task.id,
      testServicePlugin.settings.parse({ account, token: VALID_TOKEN, entities: 2 }),
    );
    await em.flush();
    h.advance(1000);
    await discover(task.id);
    await send();
    expect(bodies(from)).toMatchObject([
      { type: 'discovery', data: { event: 'discovered', items: [`user-002@${account}.example`] } },
    ]);
  });
});

describe('the send-time address check', () => {
  it('refuses to send to a name that resolves to a private address when the operator does not allow it', async () => {
    const org = await h.organization('Rebound Org');
    // Saved while allowed; the operator then turns the setting off. The name is checked on the
    // addresses it resolves to when sending (localhost: loopback).
    const url = receiver.url.replace('http://127.0.0.1', 'https://localhost');
    const { endpoint } = await createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url, events: ['job.succeeded'] },
      { allowPrivate: true },
      h.clock.now,
    );
    const from = receiver.received.length;
    const delivery = await sendTestEvent(deps(false), endpoint, h.clock.now);
    expect(receiver.received).toHaveLength(from);
    expect(delivery).toMatchObject({ status: 'pending', lastStatus: null });
    expect(delivery.lastResponse).toContain('private, loopback or link-local');
  });

  it('sends a test event to one endpoint at once', async () => {
    const org = await h.organization('Test Event Org');
    const { endpoint, secret } = await createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url: receiver.url, events: ['recovery'] },
      { allowPrivate: true },
      h.clock.now,
    );
    const from = receiver.received.length;
    const delivery = await sendTestEvent(deps(), endpoint, h.clock.now);
    expect(delivery).toMatchObject({ status: 'delivered', lastStatus: 200 });
    const [request] = receiver.received.slice(from);
    expect(JSON.parse(String(request?.body))).toMatchObject({ type: 'test', organization: { name: 'Test Event Org' } });
    expect(
      verifySignature(
        secret,
        String(request?.headers['holdfast-signature']),
        String(request?.body),
        Math.floor(h.clock.now.getTime() / 1000),
      ),
    ).toBe(true);
  });
});

describe('refused URLs', () => {
  it.each([
    ['http://hooks.example.com/x', 'Use an https:// URL.'],
    ['https://127.0.0.1/x', 'private'],
    ['https://localhost/x', 'private'],
    ['https://10.1.2.3/x', 'private'],
    ['https://192.168.1.10/x', 'private'],
    ['https://169.254.169.254/latest/meta-data', 'private'],
    ['https://[::1]/x', 'private'],
    ['https://[fd12:3456::1]/x', 'private'],
    ['https://[fe80::1]/x', 'private'],
    ['https://[::ffff:10.0.0.1]/x', 'private'],
    ['not a url', 'Enter a full URL'],
  ])('%s is refused with a field message, and nothing is saved', async (url, message) => {
    const org = await h.organization('Refusing Org');
    const attempt = createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url, events: ['exceptions'] },
      { allowPrivate: false },
      h.clock.now,
    );
    await expect(attempt).rejects.toMatchObject({ fields: { url: expect.stringContaining(message) } });
    expect(await h.em().count(WebhookEndpoint, { organization: org.id })).toBe(0);
  });

  it('refuses an endpoint without an event type', async () => {
    const org = await h.organization('No Types Org');
    const attempt = createEndpoint(
      h.em(),
      h.ctx.credentials,
      org,
      { url: 'https://93.184.215.14/hook', events: [] },
      { allowPrivate: false },
      h.clock.now,
    );
    await expect(attempt).rejects.toMatchObject({ fields: { events: 'Choose at least one event type.' } });
    expect(await h.em().count(WebhookEndpoint, { organization: org.id })).toBe(0);
  });
});
