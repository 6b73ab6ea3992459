// The fields of a storage kind, generated from its sink plugin's settings schema (z.toJSONSchema):
// label and hint from the setting's description, input type from its JSON type, choices from an
// enum, secrets as password inputs. Also turns submitted values (form strings or JSON) into what
// the schema parses, and says which kinds and settings an organization may use.
import { z } from 'zod';
import type { IOrganization } from '../identity/entities.ts';
import { sinkPlugin, sinkPlugins } from '../plugins/registry.ts';
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

/** Settings that name files on the appliance: only the operator may use them (a tenant could read files). */
const SERVER_PATH_SETTINGS: readonly string[] = ['caFile', 'keyFile'];
/** Kinds that write on the appliance's own disks: only the operator may use them. */
const OPERATOR_KINDS: readonly string[] = ['local'];

/** The settings shown unfolded per kind; a kind not listed shows all of them. */
const PRIMARY_SETTINGS: Record<string, readonly string[]> = {
  local: ['path'],
  s3: ['endpoint', 'region', 'bucket', 'prefix', 'accessKeyId', 'secretAccessKey', 'forcePathStyle'],
  azure: ['connectionString', 'accountName', 'accountKey', 'sasToken', 'endpoint', 'container', 'prefix'],
  gcs: ['bucket', 'prefix', 'credentialsJson', 'projectId', 'apiEndpoint'],
};

const FALLBACK_LABELS: Record<string, string> = { path: 'Folder' };

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
  return Boolean(sinkPlugin(kind)) && (isOperator(org) || !OPERATOR_KINDS.includes(kind));
}

function settingAllowed(org: IOrganization, name: string): boolean {
  return isOperator(org) || !SERVER_PATH_SETTINGS.includes(name);
}

/** The kinds an organization may create a location of, in the registry's order. */
export function kindsFor(org: IOrganization): { kind: string; label: string }[] {
  return sinkPlugins.filter((p) => kindAllowed(org, p.kind)).map((p) => ({ kind: p.kind, label: p.label }));
}

function splitDescription(name: string, description: string | undefined): { label: string; hint: string | null } {
  if (!description) return { label: FALLBACK_LABELS[name] ?? name, hint: null };
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
  const primary = PRIMARY_SETTINGS[plugin.kind];
  return Object.entries(schema.properties ?? {})
    .filter(([name]) => settingAllowed(org, name))
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
 * Without explicit credentials, the S3 and GCS SDKs fall back to the appliance's own (environment,
 * instance role, default application credentials): only the operator may rely on those, or a
 * tenant's location could reach the operator's buckets.
 */
export function ambientCredentialProblems(
  org: IOrganization,
  kind: string,
  settings: Record<string, unknown>,
  secrets: Record<string, string>,
): Record<string, string> {
  if (isOperator(org)) return {};
  if (kind === 's3' && !(settings.accessKeyId && secrets.secretAccessKey)) {
    return settings.accessKeyId
      ? { secretAccessKey: 'Enter the secret access key.' }
      : { accessKeyId: 'Enter the access key id and secret of this storage.' };
  }
  if (kind === 'gcs' && !secrets.credentialsJson) {
    return { credentialsJson: "Paste the service account's JSON key." };
  }
  return {};
}
