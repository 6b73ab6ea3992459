// A CSV download streamed as its rows are read (pages and the API alike) through the one CSV
// writer (core/plugins/csv.ts), so an export of any size holds only one chunk in memory; `onEnd`
// learns how many rows went out and whether the body was sent whole (a client that goes away mid-way cancels the stream), e.g. for the audit.
import type { Context } from 'hono';
import { type CsvStream, csvChunks } from '../plugins/csv.ts';

export interface CsvDownload extends CsvStream {
  /** The attachment's file name. */
  fileName: string;
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
