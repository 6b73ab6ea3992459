// A plugin's settings as form fields, generated from its zod schema (z.toJSONSchema): label and
// hint from the setting's `.describe()` text, the input from its JSON type (text, number, a
// checkbox for booleans, a select for enums), secrets as password inputs that are never filled
// back in. Settings a form cannot express (lists, objects) are left out: the schema's defaults
// apply. Also turns submitted form strings back into what the schema parses.
import { z } from 'zod';

export interface FormField {
  name: string;
  label: string;
  hint: string | null;
  input: 'text' | 'password' | 'number' | 'checkbox' | 'select';
  secret: boolean;
  required: boolean;
  choices: string[];
  defaultValue: string | null;
}

interface JsonSchemaProperty {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  default?: unknown;
  anyOf?: JsonSchemaProperty[];
}

/** "itemDelayMs" → "Item delay ms": a readable label when the plugin gave none. */
export function labelFromName(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Label (hint)" or "Label; hint" → label and hint. */
function splitDescription(name: string, description: string | undefined): { label: string; hint: string | null } {
  if (!description) return { label: labelFromName(name), hint: null };
  const cut = description.search(/ \(|; /);
  if (cut < 0) return { label: description, hint: null };
  const rest = description
    .slice(cut)
    .replace(/^; /, '')
    .replace(/^ \((.*)\)$/, '$1')
    .trim();
  return { label: description.slice(0, cut), hint: rest ? rest.charAt(0).toUpperCase() + rest.slice(1) : null };
}

/** The scalar type of a property (a nullable one is `anyOf: [T, null]`); undefined for lists and objects. */
function scalarType(prop: JsonSchemaProperty): string | undefined {
  if (prop.enum) return 'enum';
  const types = [prop.type, ...(prop.anyOf ?? []).map((p) => p.type)]
    .flat()
    .filter((t): t is string => typeof t === 'string' && t !== 'null');
  const [type] = types;
  return type && ['string', 'number', 'integer', 'boolean'].includes(type) ? type : undefined;
}

export function formFieldsOf(schema: z.ZodType, secretSettings: readonly string[]): FormField[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchemaProperty>;
    required?: string[];
  };
  const fields: FormField[] = [];
  for (const [name, prop] of Object.entries(json.properties ?? {})) {
    const type = scalarType(prop);
    if (!type) continue;
    const secret = secretSettings.includes(name);
    const input: FormField['input'] = secret
      ? 'password'
      : type === 'enum'
        ? 'select'
        : type === 'boolean'
          ? 'checkbox'
          : type === 'integer' || type === 'number'
            ? 'number'
            : 'text';
    fields.push({
      name,
      ...splitDescription(name, prop.description),
      input,
      secret,
      required: json.required?.includes(name) ?? false,
      choices: (prop.enum ?? []).map(String),
      defaultValue: prop.default === undefined || secret ? null : String(prop.default),
    });
  }
  return fields;
}

/**
 * Form strings as the schema parses them: empty text is "not given" for optional settings (their
 * defaults apply) and stays empty for required ones (so the schema's own message names it),
 * numbers are numbers, a checkbox is true only when ticked. Names the form does not show are dropped.
 */
export function valuesFromForm(fields: readonly FormField[], input: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = input[field.name];
    if (field.input === 'checkbox') {
      out[field.name] = value === 'on' || value === 'true';
      continue;
    }
    if (value === undefined || value.trim() === '') {
      if (field.required && field.input !== 'number') out[field.name] = '';
      continue;
    }
    if (field.input === 'number') {
      const n = Number(value);
      out[field.name] = Number.isFinite(n) ? n : value;
    } else out[field.name] = value;
  }
  return out;
}
