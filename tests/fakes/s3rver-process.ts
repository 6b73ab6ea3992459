// Runs s3rver (the loopback S3 stand-in) as its own process, so a test can SIGKILL it and start it
// again on the same port and folder: `node tests/fakes/s3rver-process.ts <folder> <port|0> <bucket>...`.
// Prints {"port": n} on its first stdout line once it listens.
//
// s3rver writes an object in place, so a reader can see it half written (even as 0 bytes): S3 never
// shows a partial object. Here its file store writes the bytes to a temporary file and publishes
// them with a rename, which gives the stand-in S3's atomic visibility.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';

interface StoredObject {
  bucket: string;
  key: string;
  content: Readable | Buffer;
  metadata: Record<string, string>;
}
interface FileStore {
  getResourcePath(bucket: string, key: string, kind: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
}
const FilesystemStore = createRequire(import.meta.url)('s3rver/lib/stores/filesystem.js') as {
  prototype: FileStore & { putObject(o: StoredObject): Promise<{ size: number; md5: string }> };
};
FilesystemStore.prototype.putObject = async function putObject(this: FileStore, object: StoredObject) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  const temp = `${objectPath}.${randomUUID()}.partial`;
  await mkdir(dirname(objectPath), { recursive: true });
  const hash = createHash('md5');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  try {
    await pipeline(source, count, createWriteStream(temp));
    const md5 = hash.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    await rename(temp, objectPath);
    return { size, md5 };
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
};

const [directory, port, ...buckets] = process.argv.slice(2);
if (!directory || port === undefined) {
  process.stderr.write('usage: s3rver-process.ts <folder> <port> <bucket>...\n');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name })),
});
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
