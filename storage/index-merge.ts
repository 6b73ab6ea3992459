// Streaming merge of sorted runs of the on-disk blob index into one: a chunk of each run in
// memory at a time, whatever their sizes. Where runs hold the same id, the newest record wins.
import { compareIds, isElsewhere } from './index-record.ts';
import { type Run, RunReader, RunWriter } from './index-run.ts';

/**
 * Merges `runs` (newest first) into a new run and closes them. `oldest`: no older run remains
 * below these, so markers that only shadow older records (ELSEWHERE) can be dropped.
 */
export function mergeRuns(runs: Run[], dir: string, name: string, oldest: boolean): Run {
  const readers = runs.map((run) => new RunReader(run));
  const writer = new RunWriter(
    dir,
    name,
    runs.reduce((sum, run) => sum + run.count, 0),
  );
  for (;;) {
    let best: RunReader | undefined;
    for (const reader of readers) {
      // Strictly smaller: on equal ids the newer run (earlier in the list) stays best.
      if (!reader.done && (!best || compareIds(reader.buf, reader.at, best.buf, best.at) < 0)) best = reader;
    }
    if (!best) break;
    if (!(oldest && isElsewhere(best.buf, best.at))) writer.push(best.buf, best.at);
    for (const reader of readers) {
      if (reader !== best && !reader.done && compareIds(reader.buf, reader.at, best.buf, best.at) === 0)
        reader.advance();
    }
    best.advance();
  }
  const merged = writer.finish();
  for (const run of runs) run.close();
  return merged;
}
