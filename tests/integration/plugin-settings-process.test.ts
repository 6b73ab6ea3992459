// A plugin's own settings are part of the configuration: the appliance process refuses to start
// on an invalid one (exit 78, one line naming the variable) before it writes anything.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/config.ts';
import { baseEnv, runToEnd } from '../helpers/process.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe("a plugin's settings at start", () => {
  it('stop the appliance with exit 78 naming the variable, before the master key is made', async () => {
    const r = await runToEnd(['core/main.ts'], baseEnv(dir.path, { HOLDFAST_DROPBOX_API_BASE: 'ftp://stand-in' }));
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      'holdfast: invalid configuration\n  HOLDFAST_DROPBOX_API_BASE: must be an http:// or https:// URL (got "ftp://stand-in")\n',
    );
    expect(existsSync(join(dir.path, 'master.key'))).toBe(false);
  });
});
