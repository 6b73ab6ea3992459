// Renders the configuration reference (a Markdown table) from the settings schema. README.md
// embeds it between markers; `npm run config:docs` rewrites that part and a test checks it.
import { CONFIG_FILE_ENV, settings } from './schema.ts';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

export function configReferenceMarkdown(): string {
  const rows = Object.entries(settings).map(
    ([key, s]) => `| \`${s.env}\` | \`${key}\` | ${s.defaultText.replace(/\|/g, '\\|')} | ${s.description} |`,
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
export function withReference(document: string): string {
  const start = document.indexOf(REFERENCE_START);
  const end = document.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error('the document has no configuration reference markers');
  return `${document.slice(0, start + REFERENCE_START.length)}\n${configReferenceMarkdown()}${document.slice(end)}`;
}
