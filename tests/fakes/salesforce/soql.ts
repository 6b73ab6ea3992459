// The SOQL the stand-in understands: SELECT fields | COUNT() FROM Object [WHERE condition]
// [ORDER BY field [ASC|DESC], …] [LIMIT n], where a condition is comparisons (= != <> < <= > >=,
// IN (…)) of a field with a literal (string, number, true/false/null, datetime or date),
// combined with AND / OR / NOT and parentheses. What it cannot parse is a MALFORMED_QUERY; an
// unknown field is INVALID_FIELD and an unknown object INVALID_TYPE, as Salesforce answers.
import { type FieldValue, type RecordValues, restError, type SObject } from './model.ts';

export type Literal = string | number | boolean | null | { datetime: number };

export type Condition =
  | { op: 'and' | 'or'; left: Condition; right: Condition }
  | { op: 'not'; inner: Condition }
  | { op: 'cmp'; field: string; cmp: string; value: Literal }
  | { op: 'in'; field: string; values: Literal[]; negate: boolean };

export interface SoqlQuery {
  fields: string[];
  count: boolean;
  object: string;
  where?: Condition;
  orderBy: { field: string; desc: boolean }[];
  limit?: number;
}

const TOKEN =
  /\s*(?:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))|(\d{4}-\d{2}-\d{2})(?![\d:T])|('(?:[^'\\]|\\.)*')|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|(<=|>=|!=|<>|[=<>(),]))/y;

interface Token {
  kind: 'datetime' | 'date' | 'string' | 'number' | 'word' | 'punct';
  text: string;
}

function malformed(soql: string, why: string) {
  return restError(400, 'MALFORMED_QUERY', `\n${soql}\n^\nERROR at Row:1:Column:1\n${why}`);
}

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < soql.length) {
    if (/^\s*$/.test(soql.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(soql);
    if (!m) throw malformed(soql, `unexpected token: '${soql.slice(at).trim().split(/\s/)[0]}'`);
    at = TOKEN.lastIndex;
    const kinds = ['datetime', 'date', 'string', 'number', 'word', 'punct'] as const;
    for (let i = 0; i < kinds.length; i++) {
      const text = m[i + 1];
      if (text !== undefined) {
        tokens.push({ kind: kinds[i] as Token['kind'], text });
        break;
      }
    }
  }
  return tokens;
}

export function parseSoql(soql: string): SoqlQuery {
  const t = tokenize(soql);
  let i = 0;
  const peekWord = (w: string) => t[i]?.kind === 'word' && t[i]?.text.toUpperCase() === w;
  const expectWord = (w: string) => {
    if (!peekWord(w)) throw malformed(soql, `expecting '${w}', found '${t[i]?.text ?? 'EOF'}'`);
    i++;
  };
  const expectPunct = (p: string) => {
    if (t[i]?.text !== p) throw malformed(soql, `expecting '${p}', found '${t[i]?.text ?? 'EOF'}'`);
    i++;
  };
  const word = (): string => {
    const tok = t[i++];
    if (tok?.kind !== 'word') throw malformed(soql, `unexpected token: '${tok?.text ?? 'EOF'}'`);
    return tok.text;
  };
  expectWord('SELECT');
  const fields: string[] = [];
  let count = false;
  if (peekWord('COUNT') && t[i + 1]?.text === '(') {
    i += 2;
    expectPunct(')');
    count = true;
  } else {
    fields.push(word());
    while (t[i]?.text === ',') {
      i++;
      fields.push(word());
    }
  }
  expectWord('FROM');
  const object = word();
  const literal = (): Literal => {
    const tok = t[i++];
    if (!tok) throw malformed(soql, 'unexpected end of query');
    switch (tok.kind) {
      case 'string':
        return tok.text.slice(1, -1).replace(/\\(.)/g, '$1');
      case 'number':
        return Number(tok.text);
      case 'datetime':
        return { datetime: Date.parse(tok.text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) };
      case 'date':
        return { datetime: Date.parse(`${tok.text}T00:00:00Z`) };
      case 'word': {
        const w = tok.text.toLowerCase();
        if (w === 'true') return true;
        if (w === 'false') return false;
        if (w === 'null') return null;
      }
    }
    throw malformed(soql, `unexpected token: '${tok.text}'`);
  };
  const primary = (): Condition => {
    if (t[i]?.text === '(') {
      i++;
      const inner = disjunction();
      expectPunct(')');
      return inner;
    }
    if (peekWord('NOT')) {
      i++;
      return { op: 'not', inner: primary() };
    }
    const field = word();
    if (peekWord('IN') || (peekWord('NOT') && t[i + 1]?.text.toUpperCase() === 'IN')) {
      const negate = peekWord('NOT');
      i += negate ? 2 : 1;
      expectPunct('(');
      const values = [literal()];
      while (t[i]?.text === ',') {
        i++;
        values.push(literal());
      }
      expectPunct(')');
      return { op: 'in', field, values, negate };
    }
    const cmp = t[i++]?.text;
    if (!cmp || !['=', '!=', '<>', '<', '<=', '>', '>='].includes(cmp))
      throw malformed(soql, `unexpected token: '${cmp}'`);
    return { op: 'cmp', field, cmp, value: literal() };
  };
  const conjunction = (): Condition => {
    let left = primary();
    while (peekWord('AND')) {
      i++;
      left = { op: 'and', left, right: primary() };
    }
    return left;
  };
  const disjunction = (): Condition => {
    let left = conjunction();
    while (peekWord('OR')) {
      i++;
      left = { op: 'or', left, right: conjunction() };
    }
    return left;
  };
  const query: SoqlQuery = { fields, count, object, orderBy: [] };
  if (peekWord('WHERE')) {
    i++;
    query.where = disjunction();
  }
  if (peekWord('ORDER')) {
    i++;
    expectWord('BY');
    for (;;) {
      const field = word();
      let desc = false;
      if (peekWord('ASC')) i++;
      else if (peekWord('DESC')) {
        i++;
        desc = true;
      }
      query.orderBy.push({ field, desc });
      if (t[i]?.text !== ',') break;
      i++;
    }
  }
  if (peekWord('LIMIT')) {
    i++;
    const n = literal();
    if (typeof n !== 'number') throw malformed(soql, 'LIMIT needs a number');
    query.limit = n;
  }
  if (i < t.length) throw malformed(soql, `unexpected token: '${t[i]?.text}'`);
  return query;
}

function invalidField(object: SObject, field: string) {
  return restError(
    400,
    'INVALID_FIELD',
    `No such column '${field}' on entity '${object.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`,
  );
}

/** Checks every field the query names against the object's describe. */
export function checkFields(query: SoqlQuery, object: SObject): void {
  const names: string[] = [...query.fields, ...query.orderBy.map((o) => o.field)];
  const walk = (c: Condition | undefined) => {
    if (!c) return;
    if (c.op === 'and' || c.op === 'or') {
      walk(c.left);
      walk(c.right);
    } else if (c.op === 'not') walk(c.inner);
    else if (c.op === 'cmp' || c.op === 'in') names.push(c.field);
  };
  walk(query.where);
  for (const n of names) if (!object.field(n)) throw invalidField(object, n);
}

function comparable(v: FieldValue | Literal): number | string | boolean | null {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'object') return v.datetime;
  if (/^\d{4}-\d{2}-\d{2}T/.test(v)) return Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  // A date field's value compares with a date literal (both midnight UTC).
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return Date.parse(`${v}T00:00:00Z`);
  return v;
}

function compare(a: FieldValue, cmp: string, b: Literal): boolean {
  const x = comparable(a);
  const y = comparable(b);
  if (cmp === '=')
    return x === y || (typeof x === 'string' && typeof y === 'string' && x.toLowerCase() === y.toLowerCase());
  if (cmp === '!=' || cmp === '<>') return !compare(a, '=', b);
  if (x === null || y === null) return false;
  if (cmp === '<') return x < y;
  if (cmp === '<=') return x <= y;
  if (cmp === '>') return x > y;
  return x >= y;
}

export function matches(c: Condition | undefined, record: RecordValues, object: SObject): boolean {
  if (!c) return true;
  switch (c.op) {
    case 'and':
      return matches(c.left, record, object) && matches(c.right, record, object);
    case 'or':
      return matches(c.left, record, object) || matches(c.right, record, object);
    case 'not':
      return !matches(c.inner, record, object);
    case 'in': {
      const v = record[object.field(c.field)?.name ?? c.field] ?? null;
      const hit = c.values.some((x) => compare(v, '=', x));
      return c.negate ? !hit : hit;
    }
    case 'cmp':
      return compare(record[object.field(c.field)?.name ?? c.field] ?? null, c.cmp, c.value);
  }
  return false;
}

export function sortRecords(records: RecordValues[], orderBy: SoqlQuery['orderBy'], object: SObject): void {
  if (orderBy.length === 0) return;
  records.sort((a, b) => {
    for (const o of orderBy) {
      const name = object.field(o.field)?.name ?? o.field;
      const x = comparable(a[name] ?? null);
      const y = comparable(b[name] ?? null);
      if (x === y) continue;
      // Nulls first ascending, as Salesforce's default NULLS FIRST.
      const less = x === null ? true : y === null ? false : x < y;
      return (less ? -1 : 1) * (o.desc ? -1 : 1);
    }
    return 0;
  });
}

/** Whether the condition pins an id field (`X = '…'` or `X IN (…)`), at the top or under AND. */
export function filtersOnId(c: Condition | undefined, object: SObject): boolean {
  if (!c) return false;
  if (c.op === 'and') return filtersOnId(c.left, object) || filtersOnId(c.right, object);
  if ((c.op === 'cmp' && c.cmp === '=') || (c.op === 'in' && !c.negate)) {
    const type = object.field(c.field)?.type;
    return type === 'id' || type === 'reference';
  }
  return false;
}
