// Damage for repository tests: a byte flipped in a file of a local repository, or in the stored
// bytes of one blob (found through the repository's index).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalSink } from '../../plugins/sinks/local/index.ts';
import { Repository } from '../../storage/repository.ts';
import { PASSPHRASE, readAll } from './repository.ts';

/** Flips one byte of a file (by default in its middle). */
export function flipByte(path: string, at?: number): void {
  const bytes = readFileSync(path);
  const i = at ?? Math.floor(bytes.length / 2);
  bytes[i] = (bytes[i] as number) ^ 0x5a;
  writeFileSync(path, bytes);
}

/** Opens the repository in a local sink folder, as another process would. */
export function openLocal(sinkPath: string): Promise<Repository> {
  return Repository.open(new LocalSink({ path: sinkPath }), { passphrase: PASSPHRASE });
}

/** Flips a byte inside one stored blob, so reading it fails authentication. */
export async function damageBlob(sinkPath: string, blobId: string): Promise<void> {
  const repo = await openLocal(sinkPath);
  await repo.loadIndex();
  const at = repo.locate(blobId);
  if (!at) throw new Error(`blob ${blobId} is not indexed`);
  repo.close();
  flipByte(join(sinkPath, 'data', at.pack.slice(0, 2), at.pack), at.offset + Math.floor(at.length / 2));
}

/** The same through the repository's sink (any kind): the pack is written again with one byte flipped. */
export async function damageBlobInSink(repo: Repository, blobId: string): Promise<void> {
  await repo.loadIndex();
  const at = repo.locate(blobId);
  if (!at) throw new Error(`blob ${blobId} is not indexed`);
  const key = `data/${at.pack.slice(0, 2)}/${at.pack}`;
  const bytes = await readAll(await repo.sink.get(key));
  const i = at.offset + Math.floor(at.length / 2);
  bytes[i] = (bytes[i] as number) ^ 0x5a;
  await repo.sink.delete(key);
  await repo.sink.put(key, bytes);
}
