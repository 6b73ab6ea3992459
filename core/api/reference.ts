// A readable API reference rendered on the server from the OpenAPI document, so it works
// offline and under the strict CSP (no third-party viewer scripts).
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderInline, renderMarkdown } from '../http/markdown.ts';
import { renderPage } from '../http/page.ts';

interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  additionalProperties?: SchemaObject | boolean;
  anyOf?: SchemaObject[];
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: SchemaObject }[];
  requestBody?: { content?: Record<string, { schema?: SchemaObject }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: SchemaObject }> }>;
}

interface Document {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, SchemaObject> };
}

/** A short type label: `string (email)`, `Error`, `array of Job`, `"a" | "b"`. */
export function typeLabel(schema: SchemaObject | undefined): string {
  if (!schema) return 'any';
  if (schema.$ref) return schema.$ref.split('/').pop() ?? 'object';
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.anyOf) return schema.anyOf.map(typeLabel).join(' | ');
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'object');
  if (type === 'array') return `array of ${typeLabel(schema.items)}`;
  if (type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    return `map of ${typeLabel(schema.additionalProperties)}`;
  }
  return schema.format ? `${type} (${schema.format})` : type;
}

function fieldsOf(
  schema: SchemaObject | undefined,
  prefix = '',
): { name: string; type: string; required: boolean; description: string }[] {
  if (!schema?.properties) return [];
  return Object.entries(schema.properties).flatMap(([name, prop]) => {
    const full = `${prefix}${name}`;
    const row = {
      name: full,
      type: typeLabel(prop),
      required: schema.required?.includes(name) ?? false,
      description: renderInline(prop.description ?? ''),
    };
    return prop.properties ? [row, ...fieldsOf(prop, `${full}.`)] : [row];
  });
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

export function referenceModel(doc: Document) {
  const groups = new Map<string, unknown[]>();
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'General';
      const body = op.requestBody?.content?.['application/json']?.schema;
      const entry = {
        id: `${method}-${path}`.replace(/[^a-zA-Z0-9]+/g, '-'),
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? '',
        // Rendered Markdown (escaped first): the template inserts it as markup.
        description: renderMarkdown(op.description ?? ''),
        parameters: (op.parameters ?? []).map((p) => ({
          ...p,
          type: typeLabel(p.schema),
          description: renderInline(p.description ?? ''),
        })),
        body: body ? typeLabel(body) : undefined,
        responses: Object.entries(op.responses ?? {}).map(([status, r]) => ({
          status,
          description: renderInline(r.description ?? ''),
          type: r.content?.['application/json'] ? typeLabel(r.content['application/json'].schema) : '',
        })),
      };
      groups.set(tag, [...(groups.get(tag) ?? []), entry]);
    }
  }
  return {
    info: { ...doc.info, description: renderMarkdown(doc.info.description ?? '') },
    groups: [...groups.entries()].map(([name, operations]) => ({ name, id: `tag-${slug(name)}`, operations })),
    schemas: Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => ({
      name,
      fields: fieldsOf(schema),
    })),
  };
}

export function renderApiReference(c: Context<AppEnv>, deps: AppDeps, doc: unknown): Response {
  return renderPage(c, deps, 'pages/api-reference.njk', {
    title: 'API reference',
    ref: referenceModel(doc as Document),
  });
}
