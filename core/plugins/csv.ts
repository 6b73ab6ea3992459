// CSV per RFC 4180, the one writer of the appliance: the pages' and the API's downloads
// (core/http/csv-response.ts) and the plugins' exports (a Salesforce object as a Data Loader CSV)
// stream their rows through `csvChunks`, so memory holds one chunk of rows whatever the size.
//
// `formulas: 'defuse'` (the default, for files people open in a spreadsheet: audit and activity
// logs) puts a leading quote before a cell a spreadsheet would run as a formula, since those rows
// carry text users typed; spreadsheets in many locales split on semicolons, so a leading one is
// defused too and any cell holding one is quoted ("a;=cmd" stays one cell). `formulas: 'keep'`
// writes every value exactly (data a tool loads back, where "-5" must stay -5).
export interface CsvOptions {
  formulas?: 'defuse' | 'keep';
}

export function csvCell(value: string, options: CsvOptions = {}): string {
  if (options.formulas === 'keep') return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  const safe = /^[=+\-@\t\r;]/.test(value) ? `'${value}` : value;
  return /[",;\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(cells: readonly string[], options: CsvOptions = {}): string {
  return `${cells.map((cell) => csvCell(cell, options)).join(',')}\r\n`;
}

const ROWS_PER_CHUNK = 200;

export interface CsvStream extends CsvOptions {
  header: readonly string[];
  rows: AsyncIterable<readonly string[]>;
  /** A UTF-8 byte-order mark first, so spreadsheets read the encoding right (the pages' exports). */
  bom?: boolean;
  /** After the last row or when the reader stops early. */
  onEnd?(outcome: { count: number; complete: boolean }): Promise<void>;
}

/** The CSV text in chunks of ROWS_PER_CHUNK rows, read from `rows` as the consumer asks. */
export async function* csvChunks(csv: CsvStream): AsyncGenerator<string> {
  let count = 0;
  let complete = false;
  try {
    let chunk = `${csv.bom ? '\uFEFF' : ''}${csvLine(csv.header, csv)}`;
    let rowsInChunk = 0;
    for await (const row of csv.rows) {
      chunk += csvLine(row, csv);
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
    await csv.onEnd?.({ count, complete });
  }
}
