// CSV per RFC 4180, with cells that a spreadsheet would run as a formula defused (a leading
// quote), since exported rows carry text users typed. Spreadsheets in many locales split on
// semicolons: a leading one is defused too, and any cell holding one is quoted so that
// "a;=cmd" stays one cell.
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r;]/.test(value) ? `'${value}` : value;
  return /[",;\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
