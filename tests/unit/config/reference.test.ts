import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown, withReference } from '../../../config/reference.ts';
import { settings } from '../../../config/schema.ts';
import { builtInAppSettings } from '../../../core/plugins/registry.ts';

describe('configuration reference', () => {
  it("lists every setting with its variable, the built-in plugins' declared ones too", () => {
    const table = configReferenceMarkdown(builtInAppSettings());
    for (const spec of Object.values(settings)) expect(table).toContain(`\`${spec.env}\``);
    expect(table).toContain('| `HOLDFAST_DROPBOX_APP_KEY` | `dropboxAppKey` |');
  });

  it('is up to date in README.md (run `npm run config:docs` after changing the schema)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(withReference(readme, builtInAppSettings())).toBe(readme);
  });
});
