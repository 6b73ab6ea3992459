// Runs s3rver (the loopback S3 stand-in) as its own process, so a test can SIGKILL it and start it
// again on the same port and folder: `node tests/fakes/s3rver-process.ts <folder> <port|0> <bucket>...`.
// Prints {"port": n} on its first stdout line once it listens.
import S3rver from 's3rver';

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
