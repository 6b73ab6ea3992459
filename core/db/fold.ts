// The folded form of text for "contains" searches: Unicode compatibility normalization (NFKC:
// NFD "café" is NFC "café", fullwidth "ＡＢＣ" is "ABC"), then case folding beyond what
// toLowerCase does ("ß" is "ss", final "ς" is "σ", long "ſ" is "s"). A search compares the folded
// value with the folded text typed, so "ÄÖÜ" finds "äöü" and "İSTANBUL" finds "İstanbul", which
// SQLite's lower() (A–Z only) did not. The database computes it with the function FOLD_FUNCTION,
// registered on every connection by the driver (config/sqlite-driver.ts; PostgreSQL: a SQL
// function of the same name in its migrations).

/** The SQL function that folds a column the way foldText folds the search text. */
export const FOLD_FUNCTION = 'holdfast_fold';

const FULL_FOLDS: Record<string, string> = { ß: 'ss', ς: 'σ', ſ: 's' };

export function foldText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[ßςſ]/g, (c) => FULL_FOLDS[c] as string)
    .normalize('NFKC');
}
