// s3rver (a loopback S3 stand-in) for the S3 sink's tests, run as a child process on an ephemeral
// port with its own folder, so a test can also SIGKILL it and start it again on the same port
// (outage tests). It runs with OpenSSL's legacy provider: s3rver encrypts listing continuation
// tokens with DES. Credentials are s3rver's built-in test account.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Sink, type S3SinkOptions } from '../../plugins/sinks/s3/s3-sink.ts';
import { repoRoot } from './process.ts';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LoopbackS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly directory: string;
  /** A sink on the first bucket (created at start), under a fresh prefix unless one is given. */
  sink(options?: Partial<S3SinkOptions>): S3Sink;
  /** The `holdfast repo` CLI's sink options for this server (the secret goes in the environment). */
  cliArgs(prefix: string, bucket?: string): string[];
  /** SIGKILLs the server (open connections drop mid-request) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** Kills it and removes its folder. */
  stop(): Promise<void>;
}

async function spawnServer(directory: string, port: number, buckets: string[]): Promise<[ChildProcess, number]> {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', 'tests/fakes/s3rver-process.ts', directory, String(port), ...buckets],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const actual = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const newline = out.indexOf('\n');
      if (newline > 0) resolve((JSON.parse(out.slice(0, newline)) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  return [child, actual];
}

/** Starts s3rver with these buckets on 127.0.0.1 and an ephemeral port. */
export async function startS3rver(buckets: string[] = ['holdfast-test']): Promise<LoopbackS3> {
  const directory = mkdtempSync(join(tmpdir(), 'holdfast-s3rver-'));
  let [child, port] = await spawnServer(directory, 0, buckets);
  const endpoint = `http://127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };
  return {
    endpoint,
    port,
    directory,
    sink: (options = {}) =>
      new S3Sink({
        endpoint,
        region: 'us-east-1',
        bucket: buckets[0] as string,
        prefix: randomUUID(),
        forcePathStyle: true,
        ...S3RVER_CREDENTIALS,
        ...options,
      }),
    cliArgs: (prefix, bucket = buckets[0] as string) => [
      '--sink',
      's3',
      '--endpoint',
      endpoint,
      '--bucket',
      bucket,
      '--prefix',
      prefix,
      '--force-path-style',
      '--access-key-id',
      S3RVER_CREDENTIALS.accessKeyId,
    ],
    kill,
    restart: async () => {
      await kill();
      [child, port] = await spawnServer(directory, port, buckets);
    },
    stop: async () => {
      await kill();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
