// The OAuth connect flow's own checks: PKCE (S256) in the authorization URL, and a return that
// only counts with the same sealed cookie, the same state, the same user and organization, in time.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCredentialCipher } from '../../../core/secrets/credential-cipher.ts';
import {
  beginOAuth,
  finishOAuth,
  OAUTH_PENDING_MS,
  parseOAuthChoices,
  storedOAuthChoices,
} from '../../../core/tasks/oauth-connect.ts';

const cipher = createCredentialCipher(randomBytes(32));
const oauth = {
  authorizationUrl: ({
    redirectUri,
    state,
    codeChallenge,
  }: {
    redirectUri: string;
    state: string;
    codeChallenge: string;
  }) =>
    `https://service.example/authorize?${new URLSearchParams({ redirect_uri: redirectUri, state, code_challenge: codeChallenge, code_challenge_method: 'S256' })}`,
};
const who = { organizationId: 'org-1', userId: 'user-1' };
const now = new Date('2026-11-22T10:00:00Z');

function begin() {
  const started = beginOAuth(
    oauth,
    cipher,
    'https://holdfast.example/tasks/oauth/callback',
    {
      ...who,
      service: 'dropbox',
      purpose: 'create',
      name: 'Team',
      settings: { frequency: 'daily' },
    },
    now,
  );
  const url = new URL(started.url);
  return {
    ...started,
    state: url.searchParams.get('state') as string,
    challenge: url.searchParams.get('code_challenge') as string,
  };
}

describe('OAuth connect flow', () => {
  it('sends a S256 challenge of the verifier it keeps sealed, and gives back what the form chose', () => {
    const { cookie, state, challenge } = begin();
    expect(cookie).not.toContain(state);
    const pending = finishOAuth(cipher, cookie, state, who, new Date(now.getTime() + 60_000));
    expect(createHash('sha256').update(pending.verifier).digest('base64url')).toBe(challenge);
    expect(pending).toMatchObject({
      service: 'dropbox',
      purpose: 'create',
      name: 'Team',
      settings: { frequency: 'daily' },
    });
  });

  it('refuses a missing or forged cookie, another state, another user, and a late return', () => {
    const { cookie, state } = begin();
    const fail = (c: string | undefined, s: string | undefined, w = who, at = now) => {
      try {
        finishOAuth(cipher, c, s, w, at);
        return 'accepted';
      } catch (err) {
        return (err as Error).message.split('.')[0];
      }
    };
    expect(fail(undefined, state)).toBe('The sign-in at the service could not be matched to this browser');
    expect(fail(`${cookie.slice(0, -4)}AAAA`, state)).toBe(
      'The sign-in at the service could not be matched to this browser',
    );
    // Another last character: a fixed 'x' would be the state itself once in 64 runs.
    const otherState = `${state.slice(0, -1)}${state.endsWith('x') ? 'y' : 'x'}`;
    expect(fail(cookie, otherState)).toBe('The answer from the service does not belong to this sign-in');
    expect(fail(cookie, undefined)).toBe('The answer from the service does not belong to this sign-in');
    expect(fail(cookie, state, { ...who, userId: 'user-2' })).toBe(
      'This sign-in was started by another user or in another account',
    );
    expect(fail(cookie, state, who, new Date(now.getTime() + OAUTH_PENDING_MS + 1))).toBe('The sign-in took too long');
  });
});

describe('OAuth connect choices', () => {
  const choices = z
    .object({ region: z.enum(['eu', 'us']).default('eu'), host: z.string().optional() })
    .refine((c) => c.region !== 'us' || !!c.host, { error: 'Enter the host.', path: ['host'] });

  it('hands the chosen values to the authorization URL and keeps them sealed for the return', () => {
    const seen: unknown[] = [];
    const started = beginOAuth(
      {
        authorizationUrl: (input) => {
          seen.push(input.choices);
          return `https://service.example/a?state=${input.state}`;
        },
      },
      cipher,
      'https://holdfast.example/tasks/oauth/callback',
      { ...who, service: 'svc', purpose: 'create', choices: { region: 'us', host: 'h.example' } },
      now,
    );
    expect(seen).toEqual([{ region: 'us', host: 'h.example' }]);
    expect(started.cookie).not.toContain('h.example');
    const state = new URL(started.url).searchParams.get('state') as string;
    expect(finishOAuth(cipher, started.cookie, state, who, now).choices).toEqual({ region: 'us', host: 'h.example' });
  });

  it('checks the answers with the plugin schema: defaults, or a message per field', () => {
    expect(parseOAuthChoices({ choices }, {})).toEqual({ choices: { region: 'eu' } });
    expect(parseOAuthChoices({ choices }, { region: 'us' })).toEqual({ errors: { host: 'Enter the host.' } });
    expect(parseOAuthChoices({}, { region: 'us' })).toEqual({ choices: {} });
  });

  it('reads the stored choices back from a task’s settings for re-authenticating', () => {
    const stored = { region: 'us', host: 'h.example', refreshToken: 'secret' };
    expect(storedOAuthChoices({ choices }, stored)).toEqual({ region: 'us', host: 'h.example' });
    expect(storedOAuthChoices({ choices }, { refreshToken: 'secret' })).toEqual({ region: 'eu' });
    expect(storedOAuthChoices({}, stored)).toEqual({});
  });
});
