// The fields of a storage kind, generated from its sink plugin's settings schema (z.toJSONSchema):
// label and hint from the setting's description, input type from its JSON type, choices from an
// enum, secrets as password inputs. Also turns submitted values (form strings or JSON) into what
// the schema parses, and applies what the sink's descriptor says about who may use which kind and
// setting (operatorOnly, operatorOnlySettings, tenantCredentialProblems).
import { z } from 'zod';
import type { IOrganization } from '../identity/entities.ts';
import { allSinkPlugins, sinkPlugin } from '../plugins/registry.ts';
import { labelFromName } from '../plugins/settings-form.ts';
import type { SinkPlugin } from '../plugins/sink.ts';

export interface SettingField {
  name: string;
  label: string;
  hint: string | null;
  input: 'text' | 'password' | 'textarea' | 'number' | 'checkbox' | 'select';
  secret: boolean;
  required: boolean;
  choices: string[];
  defaultValue: string | null;
  /** Shown folded under "Advanced settings". */
  advanced: boolean;
}

interface JsonSchemaProperty {
  type?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
}

/** Whether the organization's administrators may operate this kind and setting. */
export function isOperator(org: IOrganization): boolean {
  return org.kind === 'root';
}

export function kindAllowed(org: IOrganization, kind: string): boolean {
  const plugin = sinkPlugin(kind);
  return Boolean(plugin) && (isOperator(org) || !plugin?.operatorOnly);
}

function settingAllowed(org: IOrganization, plugin: SinkPlugin<unknown>, name: string): boolean {
  return isOperator(org) || !(plugin.operatorOnlySettings ?? []).includes(name);
}

/**
 * Field messages for settings the organization may not set but submitted anyway (a crafted form,
 * the API): refused rather than dropped, so nobody believes they took effect.
 */
export function forbiddenSettingProblems(
  org: IOrganization,
  plugin: SinkPlugin<unknown>,
  input: Record<string, unknown>,
): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const name of plugin.operatorOnlySettings ?? []) {
    const value = input[name];
    if (settingAllowed(org, plugin, name) || value === undefined || value === null || value === '') continue;
    problems[name] = "Only the appliance's operator may set this.";
  }
  return problems;
}

/** The kinds an organization may create a location of, in the registry's order. */
export function kindsFor(org: IOrganization): { kind: string; label: string }[] {
  return allSinkPlugins()
    .filter((p) => kindAllowed(org, p.kind))
    .map((p) => ({ kind: p.kind, label: p.label }));
}

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

export function fieldsOf(plugin: SinkPlugin<unknown>, org: IOrganization): SettingField[] {
  const schema = z.toJSONSchema(plugin.settings as z.ZodType, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchemaProperty>;
    required?: string[];
  };
  const primary = plugin.primarySettings;
  return Object.entries(schema.properties ?? {})
    .filter(([name]) => settingAllowed(org, plugin, name))
    .map(([name, prop]) => {
      const secret = plugin.secretSettings.includes(name);
      const input: SettingField['input'] = secret
        ? /Json$/.test(name)
          ? 'textarea'
          : 'password'
        : prop.enum
          ? 'select'
          : prop.type === 'boolean'
            ? 'checkbox'
            : prop.type === 'integer' || prop.type === 'number'
              ? 'number'
              : 'text';
      return {
        name,
        ...splitDescription(name, prop.description),
        input,
        secret,
        required: schema.required?.includes(name) ?? false,
        choices: (prop.enum ?? []).map(String),
        defaultValue: prop.default === undefined ? null : String(prop.default),
        advanced: primary ? !primary.includes(name) : false,
      };
    });
}

/**
 * Submitted values as the schema parses them: empty text is "not given" (so defaults apply and
 * optional settings stay unset), numbers are numbers, and checkboxes are true only when ticked.
 * Settings the organization may not use, or that the kind does not have, are dropped.
 */
export function settingsFromInput(
  fields: readonly SettingField[],
  input: Record<string, unknown>,
  from: 'form' | 'json',
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = input[field.name];
    if (field.input === 'checkbox') {
      if (from === 'form') out[field.name] = value === 'on' || value === 'true';
      else if (typeof value === 'boolean') out[field.name] = value;
      continue;
    }
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') {
      if (value.trim() === '') continue;
      if (field.input === 'number') {
        const n = Number(value);
        out[field.name] = Number.isFinite(n) ? n : value;
      } else out[field.name] = value;
    } else out[field.name] = value;
  }
  return out;
}

/**
 * A tenant's settings that would fall back to the appliance's own credentials, as the sink's
 * descriptor judges them: only the operator may rely on those, or a tenant's location could reach
 * the operator's buckets.
 */
export function ambientCredentialProblems(
  org: IOrganization,
  plugin: SinkPlugin<unknown>,
  settings: Record<string, unknown>,
  secrets: Record<string, string>,
): Record<string, string> {
  if (isOperator(org)) return {};
  return plugin.tenantCredentialProblems?.(settings, secrets) ?? {};
}
