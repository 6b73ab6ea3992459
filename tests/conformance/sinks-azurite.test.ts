// The Azure Blob sink against azurite on loopback: the shared conformance suite.
import { afterAll, beforeAll } from 'vitest';
import { type LoopbackAzure, startAzurite } from '../helpers/azurite.ts';
import { runSinkConformance } from './sink-conformance.ts';

let server: LoopbackAzure;
beforeAll(async () => {
  server = await startAzurite();
  await server.createContainer('conformance');
});
afterAll(async () => {
  await server.stop();
});

runSinkConformance(
  'azure (azurite)',
  async () => ({
    // Small blocks so the large object goes through staged blocks and a block list.
    sink: server.sink('conformance', { blockSizeBytes: 4 * 1024 * 1024, retry: { attempts: 3, baseDelayMs: 20 } }),
    cleanup: async () => {},
  }),
  { largeObjectBytes: 48 * 1024 * 1024 },
);
