// A filter's identity as text, for keeping the SQL MikroORM builds from it: building a query
// from a filter object costs more than running many of the portal's queries, and the same
// filters come back on every request. Only filters of plain values have a key; anything else
// (a raw fragment, which MikroORM keys by a Symbol that JSON.stringify would silently drop, a
// Date, an entity) has none, and its SQL is built every time.

/** The text that identifies a filter of plain values, or undefined when it holds anything else. */
export function plainFilterKey(filter: unknown): string | undefined {
  return isPlain(filter, 0) ? JSON.stringify(filter) : undefined;
}

function isPlain(value: unknown, depth: number): boolean {
  if (depth > 32) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isPlain(v, depth + 1));
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  return Object.values(value).every((v) => isPlain(v, depth + 1));
}
