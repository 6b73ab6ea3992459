// Renders the configuration reference (a Markdown table) from the settings schema and the
// settings the built-in plugins declare (passed in: config/ does not know plugins). README.md
// embeds it between markers; `npm run config:docs` rewrites that part and a test checks it.
import type { ServiceAppSettingSpec } from '../core/plugins/service.ts';
import { CONFIG_FILE_ENV, type SettingSpec, settings } from './schema.ts';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

type Row = Pick<SettingSpec<unknown>, 'env' | 'defaultText' | 'description'>;

function row(key: string, s: Row): string {
  return `| \`${s.env}\` | \`${key}\` | ${s.defaultText.replace(/\|/g, '\\|')} | ${s.description} |`;
}

/** The appliance's settings, with the plugins' declared ones after HOLDFAST_PLUGINS. */
export function configReferenceMarkdown(pluginSettings: readonly ServiceAppSettingSpec[] = []): string {
  const rows = Object.entries(settings).flatMap(([key, s]) =>
    key === 'plugins' ? [row(key, s), ...pluginSettings.map((p) => row(p.configKey, p))] : [row(key, s)],
  );
  return [
    `Environment variables override the JSON file named by \`${CONFIG_FILE_ENV}\`, which overrides the defaults.`,
    '',
    '| Variable | Config file key | Default | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** Replaces the generated part of a document. */
export function withReference(document: string, pluginSettings: readonly ServiceAppSettingSpec[] = []): string {
  const start = document.indexOf(REFERENCE_START);
  const end = document.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error('the document has no configuration reference markers');
  return `${document.slice(0, start + REFERENCE_START.length)}\n${configReferenceMarkdown(pluginSettings)}${document.slice(end)}`;
}
