// A worker node runs its jobs in several threads of one process; the repository keys one thread
// unwrapped (an OpenPGP key derivation, ~15–20 ms of CPU) reach the others, which then open
// that repository without deriving them again. Nothing reaches a thread that asks with other
// credentials.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { generateMasterKeys, unwrapKeys, wrapKeys } from '../../../storage/keys.ts';

// The other thread: loads the keys module, says what it knows before, then what it knows once the
// keys were announced. Its own listener on the channel hears the announcement too; the module's
// listener is another channel object, whose delivery may come a task later (seen on a loaded
// machine), so it looks until the keys are known or a second has passed.
const OTHER_THREAD = `
const { BroadcastChannel, parentPort, workerData } = require('node:worker_threads');
(async () => {
  const keys = await import(workerData.module);
  const known = (passphrase) => {
    const found = keys.knownKeys(workerData.wrapped, { passphrase });
    return found ? Buffer.from(found.encKey).toString('hex') : null;
  };
  const channel = new BroadcastChannel('holdfast:unwrapped-repository-keys');
  channel.onmessage = async () => {
    const until = Date.now() + 1000;
    while (known(workerData.passphrase) === null && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    parentPort.postMessage({ after: known(workerData.passphrase), otherPassphrase: known('another passphrase') });
    channel.close();
  };
  parentPort.postMessage({ before: known(workerData.passphrase) });
})();
`;

describe('repository keys shared between the threads of a process', () => {
  it('keys one thread unwrapped are known to another thread, for the same credentials only', async () => {
    const passphrase = 'the organization passphrase';
    const keys = generateMasterKeys();
    const wrapped = await wrapKeys(keys, { passphrase });
    const worker = new Worker(OTHER_THREAD, {
      eval: true,
      workerData: { module: new URL('../../../storage/keys.ts', import.meta.url).href, wrapped, passphrase },
    });
    const messages: Record<string, string | null>[] = [];
    const answered = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: Record<string, string | null>) => {
        messages.push(m);
        if ('after' in m) resolve();
      });
      worker.once('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));

    const unwrapped = await unwrapKeys(wrapped, { passphrase });
    expect(unwrapped.encKey.equals(keys.encKey)).toBe(true);
    await answered;
    await worker.terminate();

    expect(messages).toEqual([{ before: null }, { after: keys.encKey.toString('hex'), otherPassphrase: null }]);
  });
});
