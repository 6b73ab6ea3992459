// Immutability is a sink plugin's own setting (core names no sink): each plugin whose store has
// locks offers a lock mode and a period in days, both or neither, and says which policy its
// settings ask for; the local sink offers none.
import { describe, expect, it } from 'vitest';
import { sinkPlugin, sinkPlugins } from '../../../core/plugins/registry.ts';
import { formFieldsOf } from '../../../core/plugins/settings-form.ts';

const base: Record<string, Record<string, unknown>> = {
  s3: { bucket: 'backups', accessKeyId: 'a', secretAccessKey: 'b' },
  azure: { container: 'backups', accountName: 'acct', accountKey: 'a2V5' },
  gcs: { bucket: 'backups' },
};
const modeSetting: Record<string, [string, string]> = {
  s3: ['objectLockMode', 'COMPLIANCE'],
  azure: ['immutabilityMode', 'Locked'],
  gcs: ['retentionMode', 'Locked'],
};

describe('immutability settings', () => {
  it('are offered by the sinks whose stores lock objects, and by no other', () => {
    const offered = sinkPlugins
      .filter((p) => formFieldsOf(p.settings, p.secretSettings).some((f) => f.name === 'immutabilityDays'))
      .map((p) => p.kind)
      .sort();
    expect(offered).toEqual(['azure', 'gcs', 's3']);
  });

  for (const [kind, [mode, value]] of Object.entries(modeSetting)) {
    it(`${kind}: a mode needs a period and a period a mode; both give the policy`, () => {
      const plugin = sinkPlugin(kind);
      if (!plugin) throw new Error(`no ${kind} plugin`);
      const onlyMode = plugin.settings.safeParse({ ...base[kind], [mode]: value });
      expect(onlyMode.success ? [] : onlyMode.error.issues.map((i) => i.path.join('.'))).toEqual(['immutabilityDays']);
      const onlyDays = plugin.settings.safeParse({ ...base[kind], immutabilityDays: 30 });
      expect(onlyDays.success ? [] : onlyDays.error.issues.map((i) => i.path.join('.'))).toEqual([mode]);
      const both = plugin.settings.parse({ ...base[kind], [mode]: value, immutabilityDays: 30 });
      expect(plugin.immutability?.(both)).toEqual({ mode: value, days: 30 });
      expect(plugin.immutability?.(plugin.settings.parse(base[kind]))).toBeUndefined();
    });
  }
});
