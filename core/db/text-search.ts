// Case-insensitive "contains" filters for user-typed search text. `$like` alone is not enough:
// SQLite has no default LIKE escape character, so a typed `_` or `%` would act as a wildcard
// (or an escaped one would never match). An explicit ESCAPE clause and the folded form on both
// sides (core/db/fold.ts: Unicode normalization and case folding, which SQLite's lower() does
// not do beyond A–Z) behave the same on SQLite and PostgreSQL.
import { raw } from '@mikro-orm/core';
import { FOLD_FUNCTION, foldText } from './fold.ts';

/** The LIKE pattern that matches the folded `text` anywhere, with `\` as the escape character. */
export function containsPattern(text: string): string {
  return `%${foldText(text).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A SQL expression's folded form, to compare with `containsPattern`. */
export function folded(expression: string): string {
  return `${FOLD_FUNCTION}(${expression})`;
}

/**
 * A filter condition (spread it into a where object, or put it in `$or`) that is true when the
 * column contains `text`, ignoring case. `column` is a database column name written by the caller,
 * never user input.
 */
export function containsText(column: string, text: string): Record<string, never[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(column)) throw new Error(`not a column name: ${column}`);
  const fragment = raw(
    (alias: string) => `${folded(`${alias}.${column}`)} like ? escape '\\'`,
    [containsPattern(text)],
  );
  return { [fragment as unknown as string]: [] };
}
