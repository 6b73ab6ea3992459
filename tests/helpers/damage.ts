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

/** A leaf of an item tree: its blob id, first key, the keys it holds, and the next leaf's first key. */
export interface TreeLeaf {
  id: string;
  first: string;
  keys: string[];
  next: string | undefined;
}

type TreeNodeJson = { children?: { first: string; id: string }[]; items?: { key: string }[] };

/**
 * A leaf in the middle of a tree with a sibling after it. Leaves end at key-hash boundaries, so
 * how many there are and how deep the tree is depend on the repository's key: tests that damage
 * a leaf find one this way instead of assuming the root's shape.
 */
export async function middleLeaf(repo: Repository, treeId: string): Promise<TreeLeaf> {
  const node = async (id: string) => JSON.parse((await repo.readBlob(id)).toString()) as TreeNodeJson;
  let parent = await node(treeId);
  for (;;) {
    const children = parent.children ?? [];
    const firstChild = children[0] ? await node(children[0].id) : undefined;
    if (!firstChild) throw new Error(`tree ${treeId} has no inner node`);
    if (firstChild.items) break;
    parent = firstChild;
  }
  const siblings = parent.children as { first: string; id: string }[];
  if (siblings.length < 2) throw new Error(`tree ${treeId} has a single leaf: add items to the test's source`);
  const at = Math.floor((siblings.length - 1) / 2);
  const leaf = siblings[at] as { first: string; id: string };
  const keys = ((await node(leaf.id)).items ?? []).map((i) => i.key);
  return { id: leaf.id, first: leaf.first, keys, next: siblings[at + 1]?.first };
}
