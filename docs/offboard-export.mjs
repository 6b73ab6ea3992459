#!/usr/bin/env node
// Off-boarding a leaving customer without the browser: lists the customer's backup tasks and
// their users / team folders / objects, picks each one's latest snapshot, and exports everything
// in it to a storage location, one export job per entity, waiting for each to finish. Plain
// Node 18+ (fetch), no dependencies. See docs/OPERATIONS.md, "Off-boarding a customer".
//
//   HOLDFAST_URL=https://backup.example.net \
//   HOLDFAST_CLIENT_ID=hfk_… HOLDFAST_CLIENT_SECRET=… \
//   node docs/offboard-export.mjs --organization <customer id> --location <storage location id> [--format zip|tar]
//
// The API key is the partner's (or the customer's own) with Export and download; the storage
// location must be available to the customer (its own, or one of an organization above it).
// Exit code: 0 when every export succeeded, 1 when some failed, 2 on a usage or API error.

const usage =
  'usage: node docs/offboard-export.mjs --organization <id> --location <storage location id> [--format zip|tar]\n' +
  'environment: HOLDFAST_URL, HOLDFAST_CLIENT_ID, HOLDFAST_CLIENT_SECRET';

function parseArgs(argv) {
  const out = { format: 'zip' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    const value = argv[i + 1];
    if (!['organization', 'location', 'format'].includes(name) || value === undefined) return undefined;
    out[name] = value;
  }
  return out.organization && out.location && ['zip', 'tar'].includes(out.format) ? out : undefined;
}

class ApiError extends Error {}

const args = parseArgs(process.argv.slice(2));
const base = process.env.HOLDFAST_URL?.replace(/\/+$/, '');
const clientId = process.env.HOLDFAST_CLIENT_ID;
const secret = process.env.HOLDFAST_CLIENT_SECRET;
if (!args || !base || !clientId || !secret) {
  console.error(usage);
  process.exit(2);
}

async function token() {
  const res = await fetch(`${base}/api/v1/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw new ApiError(`the token request was refused (${res.status}): ${body.error_description ?? body.error}`);
  return body.access_token;
}

let bearer = await token().catch((err) => {
  console.error(err.message);
  process.exit(2);
});

async function api(path, init = {}) {
  const send = () =>
    fetch(`${base}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...init.headers },
    });
  let res = await send();
  if (res.status === 401) {
    // Access tokens last 15 minutes; a long off-boarding outlives several.
    bearer = await token();
    res = await send();
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(`${init.method ?? 'GET'} ${path}: ${res.status} ${body.error?.message ?? ''}`.trim());
  return body;
}

/** Every page of a paged list. */
async function all(path) {
  const items = [];
  for (let page = 1; ; page++) {
    const body = await api(`${path}${path.includes('?') ? '&' : '?'}page=${page}&pageSize=200`);
    items.push(...body.items);
    if (items.length >= body.total || body.items.length === 0) return items;
  }
}

const FINAL = new Set(['succeeded', 'partially_succeeded', 'failed', 'canceled']);

async function finished(id) {
  for (;;) {
    const job = await api(`/jobs/${id}`);
    if (FINAL.has(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

let failures = 0;
try {
  const { items: tasks } = await api(`/tasks?organization=${encodeURIComponent(args.organization)}`);
  if (tasks.length === 0) console.log('The customer has no backup tasks.');
  for (const task of tasks) {
    for (const entity of await all(`/tasks/${task.id}/entities`)) {
      const name = `${task.name} / ${entity.name}`;
      const { items: snapshots } = await api(`/tasks/${task.id}/entities/${entity.id}/snapshots?limit=1`);
      const latest = snapshots[0];
      if (!latest) {
        console.log(`${name}: no snapshot, nothing to export`);
        continue;
      }
      const started = await api('/jobs', {
        method: 'POST',
        body: JSON.stringify({
          kind: 'export',
          taskId: task.id,
          entityId: entity.id,
          snapshotId: latest.id,
          format: args.format,
          locationId: args.location,
          label: `Off-boarding ${entity.name}`.slice(0, 50),
        }),
      });
      const job = await finished(started.id);
      const ok = job.state === 'succeeded';
      if (!ok) failures++;
      console.log(
        `${name}: snapshot of ${latest.time}, ${job.state}` +
          (ok ? ` — ${job.progress.items} items to ${job.destination}` : ` — ${job.error ?? 'see the job log'}`),
      );
    }
  }
} catch (err) {
  if (!(err instanceof ApiError)) throw err;
  console.error(err.message);
  process.exit(2);
}
process.exit(failures ? 1 : 0);
