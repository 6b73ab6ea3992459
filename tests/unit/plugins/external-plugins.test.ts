// HOLDFAST_PLUGINS modules: a sink descriptor is registered like a service one (so a third-party
// sink is offered with its own rules), and a module exporting neither is refused by name.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allSinkPlugins, loadExternalPlugins, sinkPlugin } from '../../../core/plugins/registry.ts';
import { tempDir } from '../../helpers/config.ts';

describe('external plugins', () => {
  it('registers a sink plugin module, after the built-in sinks', async () => {
    await loadExternalPlugins([resolve('tests/fakes/test-sink.ts')]);
    expect(sinkPlugin('test-sink')?.operatorOnlySettings).toEqual(['privateKeyPath']);
    expect(allSinkPlugins().map((p) => p.kind)).toEqual(['local', 's3', 'azure', 'gcs', 'test-sink']);
  });

  it('refuses a module that exports neither a service nor a sink descriptor', async () => {
    const folder = tempDir();
    const file = join(folder.path, 'not-a-plugin.mjs');
    writeFileSync(file, 'export default { kind: "nothing" };\n');
    await expect(loadExternalPlugins([file])).rejects.toThrow(/does not default-export a service or sink plugin/);
    folder.remove();
  });
});
