// A plugin's settings as form fields, generated from its zod schema (z.toJSONSchema): label and
// hint from the setting's `.describe()` text, the input from its JSON type (text, number, a
// checkbox for booleans, a select for enums), secrets as password inputs that are never filled
// back in (a secret JSON document, `…Json`, as a text area). Settings a form cannot express
// (lists, objects) are left out: the schema's defaults apply. Also turns submitted values (form
// strings or JSON) back into what the schema parses. The one generator: service connect forms and
// storage location forms (core/storage-locations/fields.ts) both use it.
import { z } from 'zod';

export interface FormField {
  name: string;
  label: string;
  hint: string | null;
  input: 'text' | 'password' | 'textarea' | 'number' | 'checkbox' | 'select';
  secret: boolean;
  required: boolean;
  choices: string[];
  /** What a select shows for each choice (the schema's `.meta({ choiceLabels })`); else the value. */
  choiceLabels?: Record<string, string>;
  defaultValue: string | null;
}

interface JsonSchemaProperty {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  default?: unknown;
  anyOf?: JsonSchemaProperty[];
  choiceLabels?: Record<string, string>;
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
      ? /Json$/.test(name)
        ? 'textarea'
        : 'password'
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
      ...(prop.choiceLabels ? { choiceLabels: prop.choiceLabels } : {}),
      defaultValue: prop.default === undefined || secret ? null : String(prop.default),
    });
  }
  return fields;
}

export interface InputOptions {
  /** Form strings, or JSON values (the API: a checkbox is a boolean, numbers are numbers). */
  from: 'form' | 'json';
  /**
   * A blank required text: 'empty' passes '' on (so the schema's own message for it names the
   * field), 'unset' leaves it out (the schema's message for a missing value).
   */
  blankRequired: 'empty' | 'unset';
}

/**
 * Submitted values as the schema parses them: blank text is "not given" (defaults apply; see
 * `blankRequired` for required ones), numbers are numbers, a form checkbox is true only when
 * ticked. Names without a field are dropped.
 */
export function valuesFromInput(
  fields: readonly FormField[],
  input: Record<string, unknown>,
  options: InputOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = input[field.name];
    if (field.input === 'checkbox') {
      if (options.from === 'form') out[field.name] = value === 'on' || value === 'true';
      else if (typeof value === 'boolean') out[field.name] = value;
      continue;
    }
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      if (options.blankRequired === 'empty' && field.required && field.input !== 'number') out[field.name] = '';
      continue;
    }
    if (typeof value === 'string' && field.input === 'number') {
      const n = Number(value);
      out[field.name] = Number.isFinite(n) ? n : value;
    } else out[field.name] = value;
  }
  return out;
}

/** A connect form's strings as the schema parses them (a blank required field keeps its own message). */
export function valuesFromForm(fields: readonly FormField[], input: Record<string, string>): Record<string, unknown> {
  return valuesFromInput(fields, input, { from: 'form', blankRequired: 'empty' });
}
