// docker/.env.example is what operators copy: its suggestions must be safe as written.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settings } from '../../../config/schema.ts';
import { normalizeEntry } from '../../../core/access/ip-match.ts';

const example = readFileSync(new URL('../../../docker/.env.example', import.meta.url), 'utf8');
/** Every `VAR=value` line, commented out or not. */
const assignments = [...example.matchAll(/^#?(HOLDFAST_[A-Z0-9_]+)=(.*)$/gm)].map((m) => ({
  name: m[1] as string,
  value: (m[2] as string).trim(),
}));

describe('docker/.env.example', () => {
  it('names only settings that exist', () => {
    const known = new Set(Object.values(settings).map((s) => s.env));
    known.add('HOLDFAST_CONFIG');
    expect(assignments.map((a) => a.name).filter((name) => !known.has(name))).toEqual([]);
  });

  it('suggests trusting a proxy, never a whole private range of addresses', () => {
    const proxies = assignments.filter((a) => a.name === 'HOLDFAST_TRUSTED_PROXIES');
    expect(proxies.length).toBeGreaterThan(0);
    for (const { value } of proxies) {
      for (const entry of value.split(',')) {
        const { span } = normalizeEntry(entry);
        expect([entry, span.to - span.from + 1n <= 16n]).toEqual([entry, true]);
      }
    }
  });
});
