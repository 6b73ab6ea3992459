// A third-party sink plugin as an external package would write it (not a stand-in of an API):
// objects in memory, and a `privateKeyPath` setting that makes the sink read a file on the
// appliance. Its descriptor declares that setting operator-only, so the kernel must never let a
// tenant set it. `keyFilesRead` records every file a sink was opened with, to prove it.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { z } from 'zod';
import {
  ObjectExistsError,
  type ObjectInfo,
  ObjectNotFoundError,
  type PutOptions,
  type Sink,
  type SinkPlugin,
} from '../../core/plugins/sink.ts';

const settings = z.object({
  bucket: z.string({ error: 'Enter the bucket.' }).trim().min(1, { error: 'Enter the bucket.' }).describe('Bucket'),
  privateKeyPath: z.string().trim().optional().describe('Path of the private key file on the appliance'),
  token: z.string().optional().describe('Access token'),
});

type TestSinkSettings = z.infer<typeof settings>;

/** Files the sinks of this plugin read because a location named them. */
export const keyFilesRead: string[] = [];

const buckets = new Map<string, Map<string, Uint8Array>>();

async function bytesOf(body: Uint8Array | Readable): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function memorySink(bucket: string): Sink {
  const objects = buckets.get(bucket) ?? new Map<string, Uint8Array>();
  buckets.set(bucket, objects);
  const info = (key: string): ObjectInfo => {
    const bytes = objects.get(key);
    if (!bytes) throw new ObjectNotFoundError(key);
    return { key, size: bytes.length };
  };
  return {
    description: `test-sink:${bucket}`,
    capabilities: { conditionalWrites: 'native', retention: false },
    async put(key: string, body: Uint8Array | Readable, options?: PutOptions) {
      const bytes = await bytesOf(body);
      if (options?.ifAbsent && objects.has(key)) throw new ObjectExistsError(key);
      objects.set(key, bytes);
      return { key, size: bytes.length };
    },
    async get(key: string) {
      info(key);
      return Readable.from([objects.get(key) as Uint8Array]);
    },
    async head(key: string) {
      return info(key);
    },
    async *list(prefix: string) {
      for (const key of [...objects.keys()]) if (key.startsWith(prefix)) yield info(key);
    },
    async delete(key: string) {
      objects.delete(key);
    },
    async close() {},
  };
}

const testSinkPlugin: SinkPlugin<TestSinkSettings> = {
  kind: 'test-sink',
  label: 'Test sink',
  settings,
  secretSettings: ['token'],
  operatorOnlySettings: ['privateKeyPath'],
  primarySettings: ['bucket', 'token'],
  create: (s) => {
    if (s.privateKeyPath) {
      readFileSync(s.privateKeyPath);
      keyFilesRead.push(s.privateKeyPath);
    }
    return memorySink(s.bucket);
  },
};

export default testSinkPlugin;
