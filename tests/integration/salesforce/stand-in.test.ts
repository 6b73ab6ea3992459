// The Salesforce stand-in driven only through jsforce, as the connector drives it: OAuth code
// flow with PKCE, refresh and JWT bearer, identity, describeGlobal / describe, query with
// nextRecordsUrl paging, queryAll and deleted rows, SOQL filters, getUpdated / getDeleted, limits
// and the daily budget, errors as Salesforce sends them, injected faults and file bodies.
import { createHash, createSign, generateKeyPairSync } from 'node:crypto';
import { Connection, OAuth2 } from '@jsforce/jsforce-node';
import { Transport } from '@jsforce/jsforce-node/lib/transport.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fromBuffer } from 'yauzl';
import { FakeSalesforce, seedDemoMetadata, seedDemoOrg } from '../../fakes/salesforce/index.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

let sf: FakeSalesforce;
let clock = Date.parse('2026-12-01T10:00:00Z');

beforeAll(async () => {
  sf = await new FakeSalesforce({ certificate: publicPem }).start();
  sf.org.now = () => new Date(clock);
  seedDemoOrg(sf.org);
});
afterAll(async () => {
  await sf.stop();
});
beforeEach(() => {
  sf.faults.serverErrorRate = 0;
  sf.faults.throttleRate = 0;
  sf.faults.queryTimeoutRate = 0;
  sf.pageSize = 2000;
});

function oauth2(options: { useVerifier?: boolean } = {}): OAuth2 {
  return new OAuth2({
    loginUrl: sf.url,
    clientId: sf.clientId,
    clientSecret: sf.clientSecret,
    redirectUri: 'https://appliance.example/tasks/oauth/callback',
    ...options,
  });
}

function connection(): Connection {
  const { refreshToken, accessToken } = sf.grant();
  return new Connection({ oauth2: oauth2(), instanceUrl: sf.url, accessToken, refreshToken, version: '62.0' });
}

/** jsforce retries 5xx by itself (5 times, from 500 ms); the connector turns that off to own retries. */
class NoRetryTransport extends Transport {
  override httpRequest(...[req, options]: Parameters<Transport['httpRequest']>) {
    return super.httpRequest(req, { ...options, retry: { maxRetries: 0 } });
  }
}

/** Keeps the headers of the last answer (Sforce-Locator of Bulk API 2.0 results). */
class HeaderTransport extends Transport {
  last: Record<string, string> = {};
  override httpRequest(...[req, options]: Parameters<Transport['httpRequest']>) {
    const answer = super.httpRequest(req, options);
    answer.then(
      (res) => {
        this.last = res.headers as Record<string, string>;
      },
      () => {},
    );
    return answer;
  }
}

function withoutRetries(conn: Connection): Connection {
  conn._transport = new NoRetryTransport();
  return conn;
}

function jwt(claims: Record<string, unknown>, key = keys.privateKey): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'RS256' })}.${enc(claims)}`;
  return `${body}.${createSign('RSA-SHA256').update(body).sign(key).toString('base64url')}`;
}

async function errorOf(promise: PromiseLike<unknown>): Promise<Error & { errorCode?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { errorCode?: string };
  }
  throw new Error('expected the call to fail');
}

describe('OAuth', () => {
  it('trades an authorization code with its PKCE verifier for tokens naming the org', async () => {
    const auth = oauth2({ useVerifier: true });
    const url = auth.getAuthorizationUrl({ state: 'xyz', scope: 'api refresh_token' });
    expect(url.startsWith(`${sf.url}/services/oauth2/authorize?`)).toBe(true);
    const answer = await fetch(url, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    const back = new URL(answer.headers.get('location') as string);
    expect(back.searchParams.get('state')).toBe('xyz');
    const conn = new Connection({ oauth2: auth, version: '62.0' });
    const info = await conn.authorize(back.searchParams.get('code') as string);
    expect(info.organizationId).toBe(sf.org.id);
    expect(conn.instanceUrl).toBe(sf.url);
    expect(sf.oauth.refreshTokens.get(conn.refreshToken as string)?.revoked).toBe(false);
    const identity = await conn.identity();
    expect(identity.organization_id).toBe(sf.org.id);
  });

  it('refuses a code with the wrong PKCE verifier, and a code used twice', async () => {
    const auth = oauth2({ useVerifier: true });
    const answer = await fetch(auth.getAuthorizationUrl({}), { redirect: 'manual' });
    const code = new URL(answer.headers.get('location') as string).searchParams.get('code') as string;
    const other = oauth2({ useVerifier: true });
    const err = await errorOf(new Connection({ oauth2: other }).authorize(code));
    expect(err.name).toBe('invalid_grant');
    const again = await errorOf(new Connection({ oauth2: auth }).authorize(code));
    expect(again.name).toBe('invalid_grant');
  });

  it('logs in with a JWT bearer assertion signed by the registered key, and refuses another key', async () => {
    const conn = new Connection({ loginUrl: sf.url, version: '62.0' });
    const claims = {
      iss: sf.clientId,
      sub: 'admin@stand-in.example',
      aud: sf.url,
      exp: Math.floor(Date.now() / 1000) + 180,
    };
    const info = await conn.authorize({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: jwt(claims),
    });
    expect(info.organizationId).toBe(sf.org.id);
    expect((await conn.query('SELECT COUNT() FROM Account')).totalSize).toBe(5);
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const refused = await errorOf(
      new Connection({ loginUrl: sf.url }).authorize({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: jwt(claims, stranger),
      }),
    );
    expect(refused.name).toBe('invalid_grant');
    const expired = await errorOf(
      new Connection({ loginUrl: sf.url }).authorize({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: jwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }),
      }),
    );
    expect(expired.name).toBe('invalid_grant');
  });

  it('refreshes an expired session once and carries on; a revoked grant fails', async () => {
    const conn = connection();
    sf.oauth.expireSessions();
    const before = sf.count('oauth/token');
    expect((await conn.query('SELECT Id FROM Account')).records).toHaveLength(5);
    expect(sf.count('oauth/token')).toBe(before + 1);
    sf.oauth.revokeAll();
    const err = await errorOf(conn.query('SELECT Id FROM Account'));
    expect(err.message).toContain('expired access/refresh token');
  });

  it('answers INVALID_SESSION_ID with 401 to a connection that cannot refresh', async () => {
    const conn = new Connection({ instanceUrl: sf.url, accessToken: 'not-a-session', version: '62.0' });
    const err = await errorOf(conn.query('SELECT Id FROM Account'));
    expect(err.errorCode).toBe('INVALID_SESSION_ID');
  });
});

describe('describe', () => {
  it('lists every object with its queryable flag, and describes fields with types and relationships', async () => {
    const conn = connection();
    const global = await conn.describeGlobal();
    const names = global.sobjects.map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'Account',
        'Contact',
        'Opportunity',
        'Case',
        'Project__c',
        'Milestone__c',
        'ContentVersion',
      ]),
    );
    expect(global.sobjects.find((o) => o.name === 'AccountChangeEvent')?.queryable).toBe(false);
    expect(global.sobjects.find((o) => o.name === 'Project__c')?.custom).toBe(true);
    const milestone = await conn.sobject('Milestone__c').describe();
    const parent = milestone.fields.find((f) => f.name === 'Project__c');
    expect(parent).toMatchObject({ type: 'reference', referenceTo: ['Project__c'], cascadeDelete: true });
    expect(milestone.fields.find((f) => f.name === 'SystemModstamp')?.type).toBe('datetime');
    const project = await conn.sobject('Project__c').describe();
    expect(project.childRelationships.map((r) => r.childSObject)).toContain('Milestone__c');
  });
});

describe('query', () => {
  it('pages with nextRecordsUrl: jsforce follows it with queryMore until done', async () => {
    const conn = connection();
    sf.pageSize = 4;
    const first = await conn.query('SELECT Id, Name FROM Contact ORDER BY Id', { autoFetch: false });
    expect(first.records).toHaveLength(4);
    expect(first.done).toBe(false);
    expect(first.totalSize).toBe(15);
    const ids = first.records.map((r) => r.Id);
    let page = first;
    while (!page.done) {
      page = await conn.queryMore(page.nextRecordsUrl as string);
      ids.push(...page.records.map((r) => r.Id));
    }
    expect(new Set(ids).size).toBe(15);
    expect(ids).toEqual([...ids].sort());
  });

  it('filters on SystemModstamp with AND / OR, and queryAll (scanAll) also returns deleted rows', async () => {
    const conn = connection();
    const cut = new Date(clock + 1000).toISOString();
    clock += 60_000;
    const [a, b] = sf.org.liveIds('Case') as [string, string];
    sf.org.update('Case', a, { Status: 'Closed' });
    sf.org.delete('Case', b);
    const changed = await conn.query(`SELECT Id, Status FROM Case WHERE SystemModstamp > ${cut}`);
    expect(changed.records.map((r) => r.Id)).toEqual([a]);
    const all = await conn.query(`SELECT Id, IsDeleted FROM Case WHERE SystemModstamp > ${cut} ORDER BY Id`, {
      scanAll: true,
    });
    expect(all.records.map((r) => [r.Id, r.IsDeleted])).toEqual(
      [
        [a, false],
        [b, true],
      ].sort(),
    );
    const either = await conn.query(
      `SELECT Id FROM Case WHERE (Status = 'Closed' AND SystemModstamp > ${cut}) OR Subject = 'Question 5'`,
    );
    expect(either.records).toHaveLength(2);
  });

  it('answers INVALID_FIELD, INVALID_TYPE and MALFORMED_QUERY as Salesforce does', async () => {
    const conn = connection();
    expect((await errorOf(conn.query('SELECT Id, Nope__c FROM Account'))).errorCode).toBe('INVALID_FIELD');
    expect((await errorOf(conn.query('SELECT Id FROM AccountChangeEvent'))).errorCode).toBe('INVALID_TYPE');
    expect((await errorOf(conn.query('SELECT FROM Account'))).errorCode).toBe('MALFORMED_QUERY');
  });

  it('answers an unfiltered query of a filter-only object with an implementation restriction', async () => {
    const conn = connection();
    const err = await errorOf(conn.query('SELECT Id FROM ContentDocumentLink'));
    expect([err.errorCode, err.message]).toEqual([
      'MALFORMED_QUERY',
      expect.stringContaining('Implementation restriction'),
    ]);
    const doc = sf.org.liveIds('ContentDocument')[0] as string;
    expect((await conn.query(`SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = '${doc}'`)).totalSize).toBe(
      0,
    );
  });

  it('deletes master-detail children with their parent', async () => {
    const conn = connection();
    const project = sf.org.liveIds('Project__c')[0] as string;
    sf.org.delete('Project__c', project);
    const left = await conn.query(`SELECT Id FROM Milestone__c WHERE Project__c = '${project}'`);
    expect(left.totalSize).toBe(0);
    const binned = await conn.query(
      `SELECT Id FROM Milestone__c WHERE Project__c = '${project}' AND IsDeleted = true`,
      { scanAll: true },
    );
    expect(binned.totalSize).toBe(2);
  });
});

describe('replication', () => {
  it('getUpdated and getDeleted return what changed in the window, minute-rounded', async () => {
    const conn = connection();
    const start = new Date(clock);
    clock += 60_000;
    const [a, b] = sf.org.liveIds('Opportunity') as [string, string];
    sf.org.update('Opportunity', a, { StageName: 'Closed Won' });
    sf.org.delete('Opportunity', b);
    clock += 120_000;
    const end = new Date(clock);
    const updated = await conn.sobject('Opportunity').updated(start, end);
    expect(updated.ids).toEqual([a]);
    const deleted = await conn.sobject('Opportunity').deleted(start, end);
    expect(deleted.deletedRecords.map((r) => r.id)).toEqual([b]);
    const tooOld = await errorOf(conn.sobject('Opportunity').updated(new Date(clock - 40 * 86_400_000), end));
    expect(tooOld.errorCode).toBe('INVALID_REPLICATION_DATE');
  });
});

describe('the delete log', () => {
  it('getDeleted lists rows purged from the recycle bin and hard-deleted, which queryAll no longer sees', async () => {
    const conn = connection();
    const start = new Date(clock);
    clock += 60_000;
    const [binned, hard] = sf.org.liveIds('Case') as [string, string];
    sf.org.delete('Case', binned);
    clock += 60_000;
    sf.org.purge('Case', binned);
    sf.org.purge('Case', hard);
    clock += 120_000;
    const all = await conn.query(`SELECT Id FROM Case WHERE Id IN ('${binned}', '${hard}')`, { scanAll: true });
    expect(all.totalSize).toBe(0);
    const deleted = await conn.sobject('Case').deleted(start, new Date(clock));
    expect(deleted.deletedRecords.map((r) => r.id).sort()).toEqual([binned, hard].sort());
  });

  it('refuses getDeleted of an object that is not replicateable, and a window older than 30 days', async () => {
    const conn = connection();
    const end = new Date(clock);
    const notReplicated = await errorOf(conn.sobject('AccountChangeEvent').deleted(new Date(clock - 3_600_000), end));
    expect(notReplicated.errorCode).toBe('INVALID_TYPE');
    const tooOld = await errorOf(conn.sobject('Case').deleted(new Date(clock - 31 * 86_400_000), end));
    expect(tooOld.errorCode).toBe('INVALID_REPLICATION_DATE');
  });
});

describe('conditional describes', () => {
  it('answer 304 without a body to If-Modified-Since until a field is added, and count as calls', async () => {
    const conn = connection();
    const transport = new HeaderTransport();
    conn._transport = transport;
    const since = new Date(clock).toUTCString();
    const ask = (url: string) => conn.request({ method: 'GET', url, headers: { 'If-Modified-Since': since } });
    const calls = sf.calls;
    expect(await ask('/sobjects/Case/describe')).toBeFalsy();
    expect(await ask('/sobjects')).toBeFalsy();
    expect(sf.calls).toBe(calls + 2);
    clock += 60_000;
    sf.org.addField('Case', { name: 'Origin__c', type: 'picklist', custom: true });
    const changed = (await ask('/sobjects/Case/describe')) as { fields: { name: string }[] };
    expect(changed.fields.map((f) => f.name)).toContain('Origin__c');
    expect(((await ask('/sobjects')) as { sobjects: unknown[] }).sobjects.length).toBeGreaterThan(0);
    // Another object's describe did not change.
    expect(await ask('/sobjects/Account/describe')).toBeFalsy();
  });
});

describe('composite', () => {
  it('answers each subrequest as if sent alone — a 304, an error, a query page — and counts one call', async () => {
    const conn = connection();
    const base = '/services/data/v62.0';
    const calls = sf.calls;
    const used = sf.org.api.used;
    const answer = (await conn.request({
      method: 'POST',
      url: '/composite',
      body: JSON.stringify({
        allOrNone: false,
        compositeRequest: [
          {
            method: 'GET',
            referenceId: 'describe',
            url: `${base}/sobjects/Account/describe`,
            httpHeaders: { 'If-Modified-Since': new Date(clock).toUTCString() },
          },
          { method: 'GET', referenceId: 'gone', url: `${base}/sobjects/AccountChangeEvent/deleted/?start=x&end=y` },
          {
            method: 'GET',
            referenceId: 'rows',
            url: `${base}/queryAll?q=${encodeURIComponent('SELECT Id FROM Account')}`,
          },
        ],
      }),
      headers: { 'Content-Type': 'application/json' },
    })) as { compositeResponse: { referenceId: string; httpStatusCode: number; body: unknown }[] };
    const [describe, gone, rows] = answer.compositeResponse as [
      (typeof answer.compositeResponse)[0],
      (typeof answer.compositeResponse)[0],
      (typeof answer.compositeResponse)[0],
    ];
    expect([describe.referenceId, describe.httpStatusCode, describe.body]).toEqual(['describe', 304, null]);
    expect(gone.httpStatusCode).toBe(400);
    expect((gone.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_TYPE');
    expect((rows.body as { totalSize: number }).totalSize).toBe(sf.org.liveIds('Account').length);
    expect(sf.calls).toBe(calls + 1);
    expect(sf.org.api.used).toBe(used + 1);
  });
});

describe('limits and faults', () => {
  it('reports usage in Sforce-Limit-Info and /limits, and refuses past the daily budget', async () => {
    const other = sf.addOrg('Small Org');
    other.api.max = 3;
    const { accessToken } = sf.grant(other);
    const conn = new Connection({ instanceUrl: sf.url, accessToken, version: '62.0' });
    await conn.describeGlobal();
    expect(conn.limitInfo.apiUsage).toEqual({ used: 1, limit: 3 });
    const limits = await conn.limits();
    expect(limits.DailyApiRequests).toEqual({ Max: 3, Remaining: 1 });
    await conn.describeGlobal();
    const err = await errorOf(conn.describeGlobal());
    expect(err.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    expect(err.message).toContain('TotalRequests');
  });

  it('answers a 500 that jsforce retries by itself', async () => {
    const conn = connection();
    sf.failNext('server');
    const before = sf.count('query');
    expect((await conn.query('SELECT Id FROM Account')).totalSize).toBe(5);
    expect(sf.count('query')).toBe(before + 2);
  });

  it('injects 500s, throttling and query timeouts with Salesforce error codes', async () => {
    const conn = withoutRetries(connection());
    sf.failNext('server');
    expect((await errorOf(conn.query('SELECT Id FROM Account'))).errorCode).toBe('UNKNOWN_EXCEPTION');
    sf.failNext('throttle');
    expect((await errorOf(conn.query('SELECT Id FROM Account'))).errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    sf.failNext('timeout');
    expect((await errorOf(conn.query('SELECT Id FROM Account'))).errorCode).toBe('QUERY_TIMEOUT');
    sf.failNext('unavailable');
    expect((await errorOf(conn.query('SELECT Id FROM Account'))).errorCode).toBe('ERROR_HTTP_503');
    expect((await conn.query('SELECT Id FROM Account')).totalSize).toBe(5);
  });

  it('fails about the configured share of calls at random', async () => {
    const conn = withoutRetries(connection());
    sf.faults.serverErrorRate = 0.2;
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      try {
        await conn.query('SELECT COUNT() FROM Account');
      } catch {
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(5);
    expect(failed).toBeLessThan(40);
  });
});

describe('files', () => {
  it('serves ContentVersion VersionData as the blob the query names', async () => {
    const conn = connection();
    const { versionId } = sf.org.addFile('Logo', Buffer.from([0, 1, 2, 250, 251, 252]), 'png');
    const { records } = await conn.query(
      `SELECT Id, Title, Checksum, ContentSize, VersionData FROM ContentVersion WHERE Id = '${versionId}'`,
    );
    const row = records[0] as Record<string, unknown>;
    expect(row.VersionData).toBe(`/services/data/v62.0/sobjects/ContentVersion/${versionId}/VersionData`);
    const chunks: Buffer[] = [];
    for await (const chunk of conn.sobject('ContentVersion').record(versionId).blob('VersionData'))
      chunks.push(Buffer.from(chunk));
    const bytes = Buffer.concat(chunks);
    expect([...bytes]).toEqual([0, 1, 2, 250, 251, 252]);
    expect(row.Checksum).toBe(createHash('md5').update(bytes).digest('hex'));
  });
});

describe('Bulk API 2.0', () => {
  async function bulkRows(conn: Connection, soql: string, scanAll = false): Promise<Record<string, string>[]> {
    conn.bulk2.pollInterval = 1;
    const stream = await conn.bulk2.query(soql, { scanAll });
    const rows: Record<string, string>[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('record', (r: Record<string, string>) => rows.push(r));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    return rows;
  }

  it('runs a query job to completion and streams its results through jsforce (one results page)', async () => {
    const conn = connection();
    sf.bulkChecksInProgress = 2;
    const before = sf.count('bulk/job');
    try {
      const rows = await bulkRows(conn, 'SELECT Id, Name, Email FROM Contact ORDER BY Id');
      expect(rows.map((r) => r.Id)).toEqual(sf.org.liveIds('Contact').sort());
      expect(rows[0]?.Email).toMatch(/@example\.com$/);
      // Two "in progress" answers, then complete.
      expect(sf.count('bulk/job') - before).toBe(3);
    } finally {
      sf.bulkChecksInProgress = 0;
    }
  });

  // jsforce's bulk2.query() pipes every results page into one stream and ends it after the first
  // (jsforce/jsforce#1546, "write after end"): a client reads the pages itself, by Sforce-Locator.
  it('pages results by Sforce-Locator and maxRecords, each page a CSV with its header', async () => {
    const conn = connection();
    const transport = new HeaderTransport();
    conn._transport = transport;
    const job = (await conn.request({
      method: 'POST',
      url: '/jobs/query',
      body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Name FROM Contact ORDER BY Id' }),
      headers: { 'Content-Type': 'application/json' },
    })) as { id: string; state: string };
    expect(job.state).toBe('UploadComplete');
    expect(((await conn.request(`/jobs/query/${job.id}`)) as { state: string }).state).toBe('JobComplete');
    const ids: string[] = [];
    let locator = '';
    let pages = 0;
    do {
      const rows = (await conn.request({
        method: 'GET',
        url: `/jobs/query/${job.id}/results?maxRecords=4${locator ? `&locator=${locator}` : ''}`,
        headers: { Accept: 'text/csv' },
      })) as { Id: string }[];
      pages++;
      ids.push(...rows.map((r) => r.Id));
      locator = transport.last['sforce-locator'] ?? 'null';
      expect(transport.last['sforce-numberofrecords']).toBe(String(rows.length));
    } while (locator !== 'null');
    const live = sf.org.liveIds('Contact').sort();
    expect(ids).toEqual(live);
    expect(pages).toBe(Math.ceil(live.length / 4));
  });

  it('includes deleted rows with queryAll, and writes values with commas and quotes as CSV', async () => {
    const conn = connection();
    const id = sf.org.insert('Account', { Name: 'Quotes, "Commas" & Co' });
    sf.org.delete('Account', id);
    const all = await bulkRows(conn, `SELECT Id, Name, IsDeleted FROM Account WHERE Id = '${id}'`, true);
    expect(all).toEqual([{ Id: id, Name: 'Quotes, "Commas" & Co', IsDeleted: 'true' }]);
    expect(await bulkRows(conn, `SELECT Id FROM Account WHERE Id = '${id}'`)).toEqual([]);
  });

  it('refuses a job on an unknown field with INVALID_FIELD', async () => {
    const conn = connection();
    const err = await errorOf(conn.bulk2.query('SELECT Id, Nope__c FROM Account'));
    expect(err.errorCode).toBe('INVALID_FIELD');
  });
});

/** Every file of a zip: name → text. */
function unzip(zip: Buffer): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    fromBuffer(zip, { lazyEntries: true }, (err, file) => {
      if (err || !file) return reject(err);
      const out = new Map<string, string>();
      file.on('entry', (entry) => {
        file.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const parts: Buffer[] = [];
          stream.on('data', (c: Buffer) => parts.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(parts).toString());
            file.readEntry();
          });
        });
      });
      file.on('end', () => resolve(out));
      file.on('error', reject);
      file.readEntry();
    });
  });
}

describe('Metadata API', () => {
  beforeAll(() => {
    seedDemoMetadata(sf.metadata());
  });

  it('describes the metadata types and lists the components of a type', async () => {
    const conn = connection();
    const described = await conn.metadata.describe('62.0');
    expect(described.metadataObjects.map((o) => o.xmlName)).toEqual(
      expect.arrayContaining(['ApexClass', 'Flow', 'Profile']),
    );
    const classes = await conn.metadata.list([{ type: 'ApexClass' }, { type: 'Profile' }]);
    expect(classes.map((c) => `${c.type}:${c.fullName}`).sort()).toEqual([
      'ApexClass:AccountService',
      'ApexClass:ProjectRollup',
      'Profile:Admin',
      'Profile:Standard',
    ]);
    expect(classes.find((c) => c.fullName === 'AccountService')?.fileName).toBe('classes/AccountService.cls');
  });

  it('retrieves components as a zip with package.xml, each file and its -meta.xml', async () => {
    const conn = connection();
    conn.metadata.pollInterval = 1;
    sf.metadataApi.retrieveChecksInProgress = 1;
    try {
      const result = await conn.metadata
        .retrieve({
          apiVersion: 62.0,
          singlePackage: true,
          // The schema types every Package field; a retrieve manifest needs only these.
          unpackaged: {
            types: [
              { name: 'ApexClass', members: ['*'] },
              { name: 'Flow', members: ['Case_Escalation'] },
            ],
            version: '62.0',
          } as never,
        })
        .complete();
      expect(result.success).toBe(true);
      const files = await unzip(Buffer.from(result.zipFile, 'base64'));
      expect([...files.keys()].sort()).toEqual([
        'classes/AccountService.cls',
        'classes/AccountService.cls-meta.xml',
        'classes/ProjectRollup.cls',
        'classes/ProjectRollup.cls-meta.xml',
        'flows/Case_Escalation.flow',
        'package.xml',
      ]);
      expect(files.get('classes/AccountService.cls')).toContain('public with sharing class AccountService');
      expect(files.get('package.xml')).toContain('<members>Case_Escalation</members><name>Flow</name>');
    } finally {
      sf.metadataApi.retrieveChecksInProgress = 0;
    }
  });

  it('renews an expired session for SOAP calls too, and counts them against the budget', async () => {
    const conn = connection();
    const used = sf.org.api.used;
    sf.failNext('session');
    const listed = await conn.metadata.list([{ type: 'ApexTrigger' }]);
    expect(listed.map((c) => c.fullName)).toEqual(['MilestoneTrigger']);
    expect(sf.org.api.used).toBe(used + 2);
  });
});
