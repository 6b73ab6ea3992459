// One file's tries are bounded in total: the download's own retries (a corrupt body) and the
// request retries under it (5xx, 429, network) draw on one budget of the plugin's retry policy
// instead of multiplying (3 downloads × 5 requests = 15 tries of one file before).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY } from '../../../plugins/services/dropbox/client.ts';
import { backup, createDropboxHarness, type DropboxHarness, discover, dropboxTask } from '../../helpers/dropbox.ts';

let d: DropboxHarness;
beforeAll(async () => {
  d = await createDropboxHarness();
});
afterAll(async () => {
  await d.close();
});

describe('retries of one file', () => {
  it('stop after the policy’s attempts in all, the file reported as not read', async () => {
    const fay = d.fake.team.addMember({ email: 'fay@acme.example' });
    fay.namespace.writeFile('/wobbly.bin', Buffer.from('wobbly content'));
    const round = [500, 500, 500, 500, 'corrupt'] as const;
    d.fake.scriptPath('/wobbly.bin', [...round, ...round, ...round]);
    const task = await dropboxTask(d);
    await discover(d, task.id);
    d.fake.resetCounters();
    const [job] = await backup(d, task.id, ['fay@acme.example']);
    expect(job?.state).toBe('partially_succeeded');
    expect(job?.result).toMatchObject({ failedItems: 1 });
    expect(d.fake.requests.get('files/download')).toBe(DEFAULT_RETRY.attempts);
  });
});
