// Settings › Recovery: what a fresh appliance needs to recover this one (core/dr/) — for the
// root administrators only. The page tells where the encrypted configuration backups are; the
// printable recovery sheet with the master key export is shown only after the administrator's
// password is entered again (audited as "Recovery sheet viewed"); a recovery passphrase can be
// set or replaced here (it opens the configuration backups without the master key).
import { type Context, Hono } from 'hono';
import { ForbiddenError } from '../../access/errors.ts';
import { recordAudit } from '../../audit/audit-service.ts';
import { applianceId, hasRecoveryPassphrase, setRecoveryPassphrase } from '../../dr/config-backup.ts';
import { ValidationError } from '../../errors.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { confirmCurrentPassword, TooManyAttemptsError } from '../../identity/current-password.ts';
import type { IOrganization, IUser } from '../../identity/entities.ts';
import { StorageLocation } from '../../storage-locations/entities.ts';
import { formFields } from '../forms.ts';
import { actorFor } from '../security-events.ts';

/** A recovery passphrase this short is refused: it guards every sealed credential. */
const PASSPHRASE_MIN = 16;

export function recoverySheetRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/settings/recovery', async (c, next) => {
    const principal = principalOf(c);
    if (
      !(
        principal.home.kind === 'root' &&
        principal.isAdministrator &&
        organizationOf(c).kind === 'root' &&
        principal.user
      )
    ) {
      throw new ForbiddenError('Only administrators of the operator organization can see the recovery material.');
    }
    await next();
  });
  app.use('/settings/recovery/*', async (c, next) => {
    const principal = principalOf(c);
    if (
      !(
        principal.home.kind === 'root' &&
        principal.isAdministrator &&
        organizationOf(c).kind === 'root' &&
        principal.user
      )
    ) {
      throw new ForbiddenError('Only administrators of the operator organization can see the recovery material.');
    }
    await next();
  });

  const page = async (
    c: Context<AppEnv>,
    extra: { masterKey?: string; errors?: Record<string, string>; failure?: string } = {},
    status: 200 | 422 | 429 = 200,
  ) => {
    const em = c.get('em');
    const locations = await em.find(StorageLocation, {}, { orderBy: { createdAt: 'asc' } });
    return renderPage(
      c,
      deps,
      'pages/settings/recovery.njk',
      {
        title: 'Recovery',
        applianceId: await applianceId(em),
        passphraseSet: await hasRecoveryPassphrase(em),
        locations: locations.map((l) => ({
          name: l.name,
          kind: l.kind,
          description: l.description ?? (l.builtin ? deps.config.storageDir : ''),
        })),
        masterKeyGroups: extra.masterKey?.match(/.{1,4}/g) ?? null,
        masterKey: extra.masterKey ?? null,
        errors: extra.errors ?? {},
        failure: extra.failure,
        passphraseMin: PASSPHRASE_MIN,
        printedAt: deps.now(),
      },
      status,
    );
  };

  app.get('/settings/recovery', (c) => page(c));

  // The sheet with the master key: only after the password is entered again.
  app.post('/settings/recovery/sheet', async (c) => {
    const user = principalOf(c).user as IUser;
    const form = await formFields(c);
    try {
      await confirmCurrentPassword(c.get('em'), user, form.password ?? '', deps.now());
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { errors: err.fields ?? {} }, 422);
      if (err instanceof TooManyAttemptsError) {
        c.header('Retry-After', String(err.retryAfterSeconds));
        return page(c, { failure: err.message }, 429);
      }
      throw err;
    }
    await recordAudit(c.get('em'), {
      organization: user.organization as IOrganization,
      activity: 'Recovery sheet viewed',
      account: user.email,
      description: 'The recovery sheet with the master key export was shown in Settings › Recovery',
      actor: actorFor(c, deps, user),
    });
    c.header('Cache-Control', 'no-store');
    return page(c, { masterKey: deps.masterKey.toString('base64') });
  });

  app.post('/settings/recovery/passphrase', async (c) => {
    const user = principalOf(c).user as IUser;
    const form = await formFields(c);
    const passphrase = form.passphrase ?? '';
    const errors: Record<string, string> = {};
    if (passphrase.length < PASSPHRASE_MIN) errors.passphrase = `Use at least ${PASSPHRASE_MIN} characters.`;
    else if (passphrase !== (form.confirmPassphrase ?? '')) errors.confirmPassphrase = 'The passphrases do not match.';
    if (Object.keys(errors).length === 0) {
      try {
        await confirmCurrentPassword(c.get('em'), user, form.currentPassword ?? '', deps.now(), 'currentPassword');
      } catch (err) {
        if (err instanceof ValidationError) Object.assign(errors, err.fields ?? {});
        else if (err instanceof TooManyAttemptsError) {
          c.header('Retry-After', String(err.retryAfterSeconds));
          return page(c, { failure: err.message }, 429);
        } else throw err;
      }
    }
    if (Object.keys(errors).length) return page(c, { errors }, 422);
    await setRecoveryPassphrase(c.get('em'), deps.credentials, passphrase);
    await recordAudit(c.get('em'), {
      organization: user.organization as IOrganization,
      activity: 'Security settings changed',
      account: user.email,
      description: 'Recovery passphrase set in Settings › Recovery',
      actor: actorFor(c, deps, user),
    });
    return redirectWithFlash(
      c,
      deps,
      '/settings/recovery',
      'The recovery passphrase is set: the next configuration backup can be opened with it.',
    );
  });
  return app;
}
