// A CSV download streamed as its rows are read (pages and the API alike), so an export of any
// size holds only one chunk in memory; `onEnd` learns how many rows went out and whether the
// body was sent whole (a client that goes away mid-way cancels the stream), e.g. for the audit.
import type { Context } from 'hono';
import { csvLine } from './csv.ts';

const ROWS_PER_CHUNK = 200;

export interface CsvDownload {
  /** The attachment's file name. */
  fileName: string;
  header: readonly string[];
  rows: AsyncIterable<readonly string[]>;
  /** A UTF-8 byte-order mark first, so spreadsheets read the encoding right (the pages' exports). */
  bom?: boolean;
  /** After the last row or when the download stops early; its own failures are the caller's to log. */
  onEnd?(outcome: { count: number; complete: boolean }): Promise<void>;
}

async function* csvChunks(download: CsvDownload): AsyncGenerator<string> {
  let count = 0;
  let complete = false;
  try {
    let chunk = `${download.bom ? '\uFEFF' : ''}${csvLine(download.header)}`;
    let rowsInChunk = 0;
    for await (const row of download.rows) {
      chunk += csvLine(row);
      count += 1;
      if (++rowsInChunk === ROWS_PER_CHUNK) {
        yield chunk;
        chunk = '';
        rowsInChunk = 0;
      }
    }
    if (chunk) yield chunk;
    complete = true;
  } finally {
    await download.onEnd?.({ count, complete });
  }
}

/** Rows as cells, read as the download goes. */
export async function* mapRows<T>(
  rows: AsyncIterable<T>,
  cells: (row: T) => readonly string[],
): AsyncGenerator<string[]> {
  for await (const row of rows) yield [...cells(row)];
}

export function csvResponse(c: Context, download: CsvDownload): Response {
  const body = ReadableStream.from(csvChunks(download)).pipeThrough(new TextEncoderStream());
  return c.body(body, 200, {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${download.fileName}"`,
    'Cache-Control': 'no-store',
  });
}
