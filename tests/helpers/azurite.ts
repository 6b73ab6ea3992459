// azurite (Microsoft's Azure Storage emulator, npm `azurite`) for the Azure sink's tests: the blob
// service as a child process on 127.0.0.1 and an ephemeral port, with its own folder, telemetry
// off. Can be killed and restarted on the same port and folder (outage tests).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { AzureSink, type AzureSinkOptions } from '../../plugins/sinks/azure/azure-sink.ts';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = {
  accountName: 'devstoreaccount1',
  accountKey: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
} as const;

const azuriteBlobMain = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');

export interface LoopbackAzure {
  readonly endpoint: string;
  /** azurite's folder (its blobs' bytes land here as they are uploaded). */
  readonly directory: string;
  /** Creates a container (names: lowercase letters, digits, hyphens). */
  createContainer(name: string): Promise<void>;
  /** A sink on a container, under a fresh prefix unless one is given. */
  sink(container: string, options?: Partial<AzureSinkOptions>): AzureSink;
  cliArgs(container: string, prefix: string): string[];
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnAzurite(location: string, port: number): Promise<[ChildProcess, number]> {
  const child = spawn(
    process.execPath,
    [
      azuriteBlobMain,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--loose',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const actual = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const match = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`azurite exited (${code}) before listening:\n${out}`)));
  });
  return [child, actual];
}

export async function startAzurite(): Promise<LoopbackAzure> {
  const location = mkdtempSync(join(tmpdir(), 'holdfast-azurite-'));
  let [child, port] = await spawnAzurite(location, 0);
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT.accountName}`;
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };
  return {
    endpoint,
    directory: location,
    createContainer: async (name) => {
      const service = new BlobServiceClient(
        endpoint,
        new StorageSharedKeyCredential(AZURITE_ACCOUNT.accountName, AZURITE_ACCOUNT.accountKey),
      );
      await service.getContainerClient(name).createIfNotExists();
    },
    sink: (container, options = {}) =>
      new AzureSink({ ...AZURITE_ACCOUNT, endpoint, container, prefix: randomUUID(), ...options }),
    cliArgs: (container, prefix) => [
      '--sink',
      'azure',
      '--endpoint',
      endpoint,
      '--account-name',
      AZURITE_ACCOUNT.accountName,
      '--container',
      container,
      '--prefix',
      prefix,
    ],
    kill,
    restart: async () => {
      await kill();
      [child, port] = await spawnAzurite(location, port);
    },
    stop: async () => {
      await kill();
      rmSync(location, { recursive: true, force: true });
    },
  };
}
