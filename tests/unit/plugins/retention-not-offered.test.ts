// Object Lock, immutability and retention holds are part of the sink contract (`retainUntil`), but
// nothing in the appliance asks for them yet: no setting, form field or command-line option may
// offer them, and a location stored with such a setting still loads.
import { describe, expect, it } from 'vitest';
import { sinkCliOptions } from '../../../core/cli-sink-options.ts';
import { sinkPlugin, sinkPlugins } from '../../../core/plugins/registry.ts';
import { formFieldsOf } from '../../../core/plugins/settings-form.ts';

const PROMISE = /object.?lock|immutab|retention|retain/i;

describe('retention holds are not offered', () => {
  it('in the sinks’ settings forms', () => {
    for (const plugin of sinkPlugins) {
      const fields = formFieldsOf(plugin.settings, plugin.secretSettings);
      const offered = fields.filter((f) => PROMISE.test(`${f.name} ${f.label}`)).map((f) => `${plugin.kind}.${f.name}`);
      expect(offered).toEqual([]);
    }
  });

  it('in the command-line options', () => {
    expect(Object.keys(sinkCliOptions(sinkPlugins)).filter((o) => PROMISE.test(o))).toEqual([]);
  });

  it('while locations stored with such a setting still load', () => {
    const stored = {
      s3: { bucket: 'backups', objectLockMode: 'GOVERNANCE' },
      azure: { container: 'backups', accountName: 'acct', accountKey: 'a2V5', immutabilityMode: 'Locked' },
      gcs: { bucket: 'backups', retentionMode: 'Unlocked' },
    };
    for (const [kind, settings] of Object.entries(stored)) {
      const parsed = sinkPlugin(kind)?.settings.safeParse(settings);
      expect(parsed?.success, kind).toBe(true);
    }
  });
});
