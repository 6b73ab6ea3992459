// The operator's break-glass command: with the data folder, a locked-out administrator gets a
// new password and their organization's IP restrictions are turned off.
import { describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { LoginThrottle, Organization, User } from '../../../core/identity/entities.ts';
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

  it('resets two-factor and clears every throttle only when asked', async () => {
    const dir = tempDir();
    try {
      const created = await runToEnd(
        ['core/cli.ts', 'admin', 'create', '--email', 'ops@example.test', '--organization', 'Ops'],
        baseEnv(dir.path),
        'First-password-2026\n',
      );
      expect(created.code).toBe(0);
      let kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
      let em = kernel.orm.em.fork();
      await em.nativeUpdate(
        User,
        { email: 'ops@example.test' },
        { totpSecret: 'sealed-secret', totpEnabledAt: new Date() },
      );
      const now = new Date();
      for (const key of [
        'account-address:ops@example.test|203.0.113.9',
        'second-factor:ops@example.test',
        'address:203.0.113.9',
      ]) {
        em.create(LoginThrottle, {
          key,
          failures: 20,
          windowStartedAt: now,
          lockedUntil: new Date(now.getTime() + 900_000),
        });
      }
      await em.flush();
      await kernel.close();

      const plain = await runToEnd(
        ['core/cli.ts', 'admin', 'recover', '--email', 'ops@example.test'],
        baseEnv(dir.path),
        'Recovered-password-2027\n',
      );
      expect(plain.code).toBe(0);
      kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
      em = kernel.orm.em.fork();
      expect((await em.findOneOrFail(User, { email: 'ops@example.test' })).totpEnabledAt).not.toBeNull();
      expect((await em.find(LoginThrottle, {})).map((r) => r.key).sort()).toEqual([
        'address:203.0.113.9',
        'second-factor:ops@example.test',
      ]);
      await kernel.close();

      const full = await runToEnd(
        ['core/cli.ts', 'admin', 'recover', '--email', 'ops@example.test', '--reset-two-factor', '--clear-throttles'],
        baseEnv(dir.path),
        'Recovered-password-2028\n',
      );
      expect(full.code).toBe(0);
      expect(full.stdout).toContain('two-factor turned off');
      expect(full.stdout).toContain('throttles cleared');
      kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
      em = kernel.orm.em.fork();
      const user = await em.findOneOrFail(User, { email: 'ops@example.test' });
      expect(user.totpEnabledAt).toBeNull();
      expect(user.totpSecret).toBeNull();
      expect(await em.count(LoginThrottle, {})).toBe(0);
      const audit = await em.find(AuditEvent, { performedBy: 'holdfast admin recover' }, { orderBy: { id: 'asc' } });
      expect(audit.at(-1)?.description).toContain('two-factor turned off');
      await kernel.close();
    } finally {
      dir.remove();
    }
  }, 90_000);
});
