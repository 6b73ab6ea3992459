// A service's searchFields name the catalog column each field fills; a plugin whose fields name
// none, an unknown one, or one column twice is refused when it is registered, with the reason.
import { describe, expect, it } from 'vitest';
import { registerServicePlugin, servicePlugins } from '../../../core/plugins/registry.ts';
import type { ServicePlugin } from '../../../core/plugins/service.ts';
import testServicePlugin from '../../fakes/test-service.ts';

function pluginWith(kind: string, searchFields: unknown): ServicePlugin<never, never> {
  return { ...testServicePlugin, kind, searchFields } as unknown as ServicePlugin<never, never>;
}

describe('search fields', () => {
  it('are refused at registration when a field names no catalog column, an unknown one, or a column twice', () => {
    expect(() =>
      registerServicePlugin(pluginWith('old-style', [{ name: 'name', label: 'Name', type: 'text' }])),
    ).toThrow(
      'plugin "old-style": search field "name" must name its catalog column: name, path, author, editor or modified',
    );
    expect(() =>
      registerServicePlugin(pluginWith('unknown-column', [{ name: 'size', label: 'Size', column: 'size' }])),
    ).toThrow('plugin "unknown-column": search field "size" must name its catalog column');
    expect(() =>
      registerServicePlugin(
        pluginWith('twice', [
          { name: 'title', label: 'Title', column: 'name' },
          { name: 'subject', label: 'Subject', column: 'name' },
        ]),
      ),
    ).toThrow('plugin "twice": search fields "title" and "subject" both fill the catalog column "name"');
    expect(servicePlugins().map((p) => p.kind)).not.toContain('twice');
  });

  it('of the built-in plugins and the test service are valid', () => {
    expect(() => registerServicePlugin(testServicePlugin as never)).not.toThrow();
    for (const plugin of servicePlugins()) {
      const columns = plugin.searchFields.map((f) => f.column);
      expect(new Set(columns).size, plugin.kind).toBe(columns.length);
    }
  });
});
