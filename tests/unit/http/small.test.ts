import { describe, expect, it } from 'vitest';
import { referenceModel, typeLabel } from '../../../core/api/reference.ts';
import { safeNext } from '../../../core/http/middleware.ts';
import { navigationFor } from '../../../core/http/navigation.ts';

describe('safeNext', () => {
  it.each([
    ['/jobs?x=1', '/jobs?x=1'],
    [undefined, '/'],
    ['https://evil.example', '/'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['jobs', '/'],
  ])('%s → %s', (input, expected) => {
    expect(safeNext(input)).toBe(expected);
  });
});

describe('navigation', () => {
  it('lists the seed sections in order and marks the current one', () => {
    const nav = navigationFor('/');
    expect(nav.map((n) => n.label)).toEqual(['Homepage', 'Jobs', 'Recovery', 'Activity', 'Settings']);
    expect(nav.filter((n) => n.current).map((n) => n.label)).toEqual(['Homepage']);
    expect(nav.find((n) => n.label === 'Jobs')?.available).toBe(false);
  });
});

describe('API reference model', () => {
  it('labels schema types for people', () => {
    expect(typeLabel({ type: 'string', format: 'email' })).toBe('string (email)');
    expect(typeLabel({ $ref: '#/components/schemas/Error' })).toBe('Error');
    expect(typeLabel({ type: 'array', items: { type: 'integer' } })).toBe('array of integer');
    expect(typeLabel({ enum: ['a', 'b'] })).toBe('"a" | "b"');
  });

  it('groups operations by tag and flattens schema fields', () => {
    const model = referenceModel({
      info: { title: 'T', version: '1' },
      paths: { '/x': { get: { tags: ['System'], summary: 'X', responses: { 200: { description: 'ok' } } } } },
      components: {
        schemas: {
          S: {
            type: 'object',
            required: ['a'],
            properties: { a: { type: 'object', properties: { b: { type: 'string' } } } },
          },
        },
      },
    });
    expect(model.groups[0]?.name).toBe('System');
    expect(model.schemas[0]?.fields.map((f) => f.name)).toEqual(['a', 'a.b']);
  });
});
