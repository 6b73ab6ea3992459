// Where a compare's result lives: a summary (one row per object or metadata type) and the
// differences themselves as JSON lines, under the data folder per organization. The pages and
// the CSV stream the lines, so a large result is never held whole.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { FieldChange } from './field-diff.ts';

export interface CompareSideInfo {
  taskId: string;
  taskName: string;
  /** The point in time compared: each object's newest snapshot at or before it (live: when it was read). */
  time: string;
  /** The task's account as it was when the compare read it, not a backup. */
  live?: boolean;
}

export interface ObjectSummary {
  /** The entity's external id (an object's API name) and its name. */
  externalId: string;
  name: string;
  kind: string;
  /** Present on that side: a snapshot at or before its point in time. */
  inLeft: boolean;
  inRight: boolean;
  leftTotal: number;
  leftUnique: number;
  changed: number;
  rightUnique: number;
  rightTotal: number;
}

export interface CompareSummary {
  left: CompareSideInfo;
  right: CompareSideInfo;
  objects: ObjectSummary[];
  /** Fields left out of the comparison (the service's declaration). */
  ignoredFields: string[];
  /** Items whose content was read (changed candidates, both sides): the unchanged are not. */
  contentReads: number;
}

export interface DifferenceLine {
  /** Index of the object in `objects`. */
  o: number;
  key: string;
  name: string;
  side: 'left' | 'right' | 'both';
  /** A record's changed fields. */
  fields?: FieldChange[];
  /** A component's unified diff (`diff -u`), or a note that binary content differs. */
  diff?: string;
}

export function comparesFolder(dataDir: string, organizationId: string): string {
  return join(dataDir, 'compares', organizationId);
}

export function summaryPath(dataDir: string, organizationId: string, jobId: string): string {
  return join(comparesFolder(dataDir, organizationId), `${jobId}.json`);
}

export function differencesPath(dataDir: string, organizationId: string, jobId: string): string {
  return join(comparesFolder(dataDir, organizationId), `${jobId}.jsonl`);
}

/** A live side's scratch repository while the compare runs (live-side.ts). */
export function liveFolder(dataDir: string, organizationId: string, jobId: string): string {
  return join(comparesFolder(dataDir, organizationId), `${jobId}.live`);
}

export async function readSummary(dataDir: string, organizationId: string, jobId: string): Promise<CompareSummary> {
  return JSON.parse(await readFile(summaryPath(dataDir, organizationId, jobId), 'utf8')) as CompareSummary;
}

/** The differences in stored order (object by object, key order), optionally of one object. */
export async function* readDifferences(
  dataDir: string,
  organizationId: string,
  jobId: string,
  object?: number,
): AsyncGenerator<DifferenceLine> {
  const lines = createInterface({ input: createReadStream(differencesPath(dataDir, organizationId, jobId)) });
  for await (const line of lines) {
    if (line === '') continue;
    const parsed = JSON.parse(line) as DifferenceLine;
    if (object === undefined || parsed.o === object) yield parsed;
  }
}
