// The operator's break-glass command: with the data folder, a locked-out administrator gets a
// new password and their organization's IP restrictions are turned off.
import { describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { Organization, User } from '../../../core/identity/entities.ts';
import { verifyPassword } from '../../../core/identity/password.ts';
import { createLogger } from '../../../core/logging.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { baseEnv, runToEnd } from '../../helpers/process.ts';

describe('holdfast admin recover', () => {
  it('sets a new password, lifts IP restrictions, and is audited', async () => {
    const dir = tempDir();
    try {
      const created = await runToEnd(
        ['core/cli.ts', 'admin', 'create', '--email', 'ops@example.test', '--organization', 'Ops'],
        baseEnv(dir.path),
        'First-password-2026\n',
      );
      expect(created.code).toBe(0);
      let kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
      await kernel.orm.em.fork().nativeUpdate(Organization, { kind: 'root' }, { ipRestrictionsEnabled: true });
      await kernel.close();

      const unknown = await runToEnd(
        ['core/cli.ts', 'admin', 'recover', '--email', 'nobody@example.test'],
        baseEnv(dir.path),
        'x\n',
      );
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('no user has the email address');
      const weak = await runToEnd(
        ['core/cli.ts', 'admin', 'recover', '--email', 'ops@example.test'],
        baseEnv(dir.path),
        'short\n',
      );
      expect(weak.code).toBe(2);
      const r = await runToEnd(
        ['core/cli.ts', 'admin', 'recover', '--email', 'OPS@example.test'],
        baseEnv(dir.path),
        'Recovered-password-2027\n',
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('IP restrictions of "Ops" turned off');

      kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
      const em = kernel.orm.em.fork();
      const user = await em.findOneOrFail(User, { email: 'ops@example.test' }, { populate: ['organization'] });
      expect(await verifyPassword('Recovered-password-2027', user.passwordHash as string)).toBe(true);
      expect(user.organization.ipRestrictionsEnabled).toBe(false);
      expect(await em.count(AuditEvent, { activity: 'Password reset', performedBy: 'holdfast admin recover' })).toBe(1);
      await kernel.close();
    } finally {
      dir.remove();
    }
  }, 60_000);
});
