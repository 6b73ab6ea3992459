// The tests' one CSV reader (csv-parse): RFC 4180 rows — quoted cells with commas, doubled quotes
// and line breaks; CRLF or LF line ends; a leading byte-order mark dropped; rows of any length.
import { parse } from 'csv-parse/sync';

export function parseCsv(text: string): string[][] {
  return parse(text, { bom: true, relax_column_count: true, record_delimiter: ['\r\n', '\n'] });
}
