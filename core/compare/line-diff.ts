// A unified diff of two texts (metadata XML, Apex source), line by line: the longest common
// subsequence after the common head and tail are cut off, grouped into hunks with three lines of
// context — the format `diff -u` and `patch` read. (No diff library is a dependency; texts whose
// differing middles would make the table too large are shown as one replaced block.)

export interface DiffLine {
  /** ' ' the same on both sides, '-' only on the left, '+' only on the right. */
  op: ' ' | '-' | '+';
  text: string;
}

const MAX_CELLS = 4_000_000;
const CONTEXT = 3;

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of both texts, marked kept, removed or added, in order. */
export function diffLines(left: string, right: string): DiffLine[] {
  const a = splitLines(left);
  const b = splitLines(right);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const out: DiffLine[] = a.slice(0, head).map((text) => ({ op: ' ', text }));
  if ((x.length + 1) * (y.length + 1) > MAX_CELLS) {
    for (const text of x) out.push({ op: '-', text });
    for (const text of y) out.push({ op: '+', text });
  } else {
    // lcs[i][j]: the common subsequence length of x[i..] and y[j..], one row per line of x.
    const w = y.length + 1;
    const lcs = new Uint32Array((x.length + 1) * w);
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = y.length - 1; j >= 0; j--) {
        lcs[i * w + j] =
          x[i] === y[j]
            ? (lcs[(i + 1) * w + j + 1] as number) + 1
            : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number);
      }
    }
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) {
        out.push({ op: ' ', text: x[i] as string });
        i++;
        j++;
      } else if (
        i === x.length ||
        (j < y.length && (lcs[i * w + j + 1] as number) > (lcs[(i + 1) * w + j] as number))
      ) {
        // On a tie the removal goes first: diff -u writes removed lines before those replacing them.
        out.push({ op: '+', text: y[j] as string });
        j++;
      } else {
        out.push({ op: '-', text: x[i] as string });
        i++;
      }
    }
  }
  for (const text of a.slice(a.length - tail)) out.push({ op: ' ', text });
  return out;
}

/** `diff -u` text of the two versions of `name`; empty when they are the same. */
export function unifiedDiff(name: string, left: string, right: string): string {
  const lines = diffLines(left, right);
  const changed = lines.map((l, index) => (l.op === ' ' ? -1 : index)).filter((index) => index >= 0);
  if (changed.length === 0) return '';
  // Hunks: runs of changes whose context windows touch.
  const hunks: [number, number][] = [];
  for (const index of changed) {
    const start = Math.max(0, index - CONTEXT);
    const end = Math.min(lines.length, index + CONTEXT + 1);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1]) last[1] = end;
    else hunks.push([start, end]);
  }
  let text = `--- a/${name}\n+++ b/${name}\n`;
  // Line numbers on each side where each output line sits.
  let leftLine = 1;
  let rightLine = 1;
  const at: { left: number; right: number }[] = lines.map((l) => {
    const here = { left: leftLine, right: rightLine };
    if (l.op !== '+') leftLine++;
    if (l.op !== '-') rightLine++;
    return here;
  });
  for (const [start, end] of hunks) {
    const body = lines.slice(start, end);
    const leftCount = body.filter((l) => l.op !== '+').length;
    const rightCount = body.filter((l) => l.op !== '-').length;
    const from = at[start] as { left: number; right: number };
    const leftStart = leftCount === 0 ? from.left - 1 : from.left;
    const rightStart = rightCount === 0 ? from.right - 1 : from.right;
    text += `@@ -${leftStart},${leftCount} +${rightStart},${rightCount} @@\n`;
    for (const l of body) text += `${l.op}${l.text}\n`;
  }
  return text;
}

/** A unified diff's lines paired for a side-by-side view: left and right cells, either empty. */
export function sideBySide(unified: string): { left?: DiffLine; right?: DiffLine; hunk?: string }[] {
  const rows: { left?: DiffLine; right?: DiffLine; hunk?: string }[] = [];
  let removed: DiffLine[] = [];
  let added: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) {
      const row: { left?: DiffLine; right?: DiffLine } = {};
      if (removed[i]) row.left = removed[i];
      if (added[i]) row.right = added[i];
      rows.push(row);
    }
    removed = [];
    added = [];
  };
  let inHunks = false;
  for (const line of unified.split('\n')) {
    // The two header lines come before the first hunk; a removed "--x" line inside is content.
    if (!line.startsWith('@@') && (!inHunks || line === '')) continue;
    if (line.startsWith('@@')) {
      inHunks = true;
      flush();
      rows.push({ hunk: line });
    } else if (line[0] === '-') removed.push({ op: '-', text: line.slice(1) });
    else if (line[0] === '+') added.push({ op: '+', text: line.slice(1) });
    else {
      flush();
      const same: DiffLine = { op: ' ', text: line.slice(1) };
      rows.push({ left: same, right: same });
    }
  }
  flush();
  return rows;
}
