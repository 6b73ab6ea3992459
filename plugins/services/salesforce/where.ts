// The replicate's per-parent filter: a small, safe subset of SOQL's WHERE evaluated on backed-up
// records (never sent to an org): `Field = value`, `!=`, `<`, `>`, `<=`, `>=`, `LIKE 'pat%'`,
// `IN ('a', 'b')`, joined by AND / OR with parentheses. Values are quoted strings, numbers,
// true / false or null. Anything else is refused with a message saying what was not understood.

export type Predicate = (values: Record<string, unknown>) => boolean;

export class WhereError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WhereError';
  }
}

type Token = { t: 'word' | 'string' | 'number' | 'op' | '(' | ')' | ','; v: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\()|(\))|(,)|('(?:[^'\\]|\\.)*')|(!=|<=|>=|=|<|>)|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*))/y;
  let at = 0;
  while (at < input.length) {
    if (/^\s*$/.test(input.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(input);
    if (!m) throw new WhereError(`The filter is not understood at “${input.slice(at).trim().slice(0, 20)}”.`);
    at = re.lastIndex;
    if (m[1]) tokens.push({ t: '(', v: '(' });
    else if (m[2]) tokens.push({ t: ')', v: ')' });
    else if (m[3]) tokens.push({ t: ',', v: ',' });
    else if (m[4]) tokens.push({ t: 'string', v: m[4].slice(1, -1).replace(/\\(.)/g, '$1') });
    else if (m[5]) tokens.push({ t: 'op', v: m[5] });
    else if (m[6]) tokens.push({ t: 'number', v: m[6] });
    else tokens.push({ t: 'word', v: m[7] as string });
  }
  return tokens;
}

/** Parses a filter; an empty one keeps every record. */
export function parseWhere(input: string): Predicate {
  const tokens = tokenize(input);
  if (!tokens.length) return () => true;
  let i = 0;
  const peek = () => tokens[i];
  const keyword = (word: string) => peek()?.t === 'word' && peek()?.v.toUpperCase() === word;
  const fail = (what: string): never => {
    throw new WhereError(`${what}. A filter is Field = value, !=, <, >, <=, >=, LIKE or IN, joined by AND / OR.`);
  };

  const value = (): unknown => {
    const tok = tokens[i++];
    if (!tok) return fail('A value is missing at the end');
    if (tok.t === 'string') return tok.v;
    if (tok.t === 'number') return Number(tok.v);
    if (tok.t === 'word' && /^(true|false)$/i.test(tok.v)) return tok.v.toLowerCase() === 'true';
    if (tok.t === 'word' && /^null$/i.test(tok.v)) return null;
    return fail(`“${tok.v}” is not a value (quote text: 'text')`);
  };

  const comparison = (): Predicate => {
    if (peek()?.t === '(') {
      i++;
      const inner = or();
      if (tokens[i++]?.t !== ')') fail('A closing parenthesis is missing');
      return inner;
    }
    const field = tokens[i++];
    if (field?.t !== 'word' || /^(AND|OR|NOT|IN|LIKE)$/i.test(field.v)) {
      return fail(`A field name is expected${field ? ` where “${field.v}” is` : ' at the end'}`);
    }
    const name = field.v;
    if (keyword('LIKE')) {
      i++;
      const pattern = value();
      if (typeof pattern !== 'string') fail('LIKE takes a quoted pattern');
      const re = likePattern(pattern as string);
      return (v) => typeof v[name] === 'string' && re.test(v[name] as string);
    }
    if (keyword('IN')) {
      i++;
      if (tokens[i++]?.t !== '(') fail('IN takes a list in parentheses');
      const list: unknown[] = [value()];
      while (peek()?.t === ',') {
        i++;
        list.push(value());
      }
      if (tokens[i++]?.t !== ')') fail('The IN list needs its closing parenthesis');
      return (v) => list.some((x) => equal(v[name], x));
    }
    const op = tokens[i++];
    if (op?.t !== 'op') return fail(`After ${name} an operator is expected`);
    const right = value();
    switch (op.v) {
      case '=':
        return (v) => equal(v[name], right);
      case '!=':
        return (v) => !equal(v[name], right);
      default:
        return (v) => compare(v[name], right, op.v);
    }
  };

  const and = (): Predicate => {
    const parts = [comparison()];
    while (keyword('AND')) {
      i++;
      parts.push(comparison());
    }
    return parts.length === 1 ? (parts[0] as Predicate) : (v) => parts.every((p) => p(v));
  };

  function or(): Predicate {
    const parts = [and()];
    while (keyword('OR')) {
      i++;
      parts.push(and());
    }
    return parts.length === 1 ? (parts[0] as Predicate) : (v) => parts.some((p) => p(v));
  }

  const predicate = or();
  if (i < tokens.length) fail(`“${tokens[i]?.v}” is not understood here`);
  return predicate;
}

function equal(left: unknown, right: unknown): boolean {
  if (right === null) return left === null || left === undefined || left === '';
  if (typeof right === 'string' && typeof left === 'string') return left.toLowerCase() === right.toLowerCase();
  return left === right || String(left) === String(right);
}

function compare(left: unknown, right: unknown, op: string): boolean {
  if (left === null || left === undefined) return false;
  const a = typeof right === 'number' ? Number(left) : String(left);
  const b = right as number | string;
  if (typeof a === 'number' && Number.isNaN(a)) return false;
  return op === '<' ? a < b : op === '>' ? a > b : op === '<=' ? a <= b : a >= b;
}

/** SOQL LIKE: % any characters, _ one, case-insensitive. */
function likePattern(pattern: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'is');
}
