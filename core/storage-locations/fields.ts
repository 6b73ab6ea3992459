// The fields of a storage kind, generated from its sink plugin's settings schema by the plugins'
// one form generator (core/plugins/settings-form.ts), folded as the descriptor's primarySettings
// say. Also turns submitted values (form strings or JSON) into what the schema parses, and
// applies what the sink's descriptor says about who may use which kind and setting
// (operatorOnly, operatorOnlySettings, tenantCredentialProblems).
import type { z } from 'zod';
import type { IOrganization } from '../identity/entities.ts';
import { allSinkPlugins, sinkPlugin } from '../plugins/registry.ts';
import { type FormField, formFieldsOf, valuesFromInput } from '../plugins/settings-form.ts';
import type { SinkPlugin } from '../plugins/sink.ts';

/** A location setting's form field; `advanced` ones are folded under "Advanced settings". */
export interface SettingField extends FormField {
  advanced: boolean;
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

export function fieldsOf(plugin: SinkPlugin<unknown>, org: IOrganization): SettingField[] {
  const primary = plugin.primarySettings;
  return formFieldsOf(plugin.settings as z.ZodType, plugin.secretSettings)
    .filter((field) => settingAllowed(org, plugin, field.name))
    .map((field) => ({ ...field, advanced: primary ? !primary.includes(field.name) : false }));
}

/**
 * Submitted values (form strings or API JSON) as the schema parses them: blank text is "not
 * given", so defaults apply and optional settings stay unset. Settings the organization may not
 * use, or that the kind does not have, are dropped.
 */
export function settingsFromInput(
  fields: readonly SettingField[],
  input: Record<string, unknown>,
  from: 'form' | 'json',
): Record<string, unknown> {
  return valuesFromInput(fields, input, { from, blankRequired: 'unset' });
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
