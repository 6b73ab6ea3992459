// readSignedCookie reads exactly what Hono's setSignedCookie writes, as Hono's getSignedCookie
// did: the value when the signature matches, false when it does not, nothing when absent.
import { Hono } from 'hono';
import { getSignedCookie, setSignedCookie } from 'hono/cookie';
import { describe, expect, it } from 'vitest';
import { readSignedCookie } from '../../../core/http/signed-cookie.ts';

const SECRET = 'a-cookie-secret-of-the-appliance';

async function signed(value: string): Promise<string> {
  const app = new Hono();
  app.get('/', async (c) => {
    await setSignedCookie(c, 'holdfast_session', value, SECRET);
    return c.text('ok');
  });
  const res = await app.request('/');
  return (res.headers.get('set-cookie') as string).split(';')[0] as string;
}

/** What readSignedCookie and Hono's getSignedCookie each say of a Cookie header. */
async function bothRead(cookie: string | undefined) {
  const app = new Hono();
  app.get('/', async (c) =>
    c.json({
      ours: readSignedCookie(c, SECRET, 'holdfast_session') ?? null,
      hono: (await getSignedCookie(c, SECRET, 'holdfast_session')) ?? null,
    }),
  );
  return (await app.request('/', { headers: cookie ? { cookie } : {} })).json();
}

describe('readSignedCookie', () => {
  it('reads a value Hono signed, among other cookies', async () => {
    const cookie = `holdfast_tz=Europe%2FParis; ${await signed('token with spaces/and=signs')}`;
    expect(await bothRead(cookie)).toEqual({
      ours: 'token with spaces/and=signs',
      hono: 'token with spaces/and=signs',
    });
  });

  it('answers false for a changed value or signature, as Hono does', async () => {
    const cookie = await signed('abc');
    const name = cookie.slice(0, cookie.indexOf('='));
    const changedValue = `${name}=abd${cookie.slice(name.length + 4)}`;
    expect(await bothRead(changedValue)).toEqual({ ours: false, hono: false });
    const signature = decodeURIComponent(cookie.slice(cookie.lastIndexOf('.') + 1));
    const otherSignature = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await bothRead(`${name}=abc.${encodeURIComponent(otherSignature)}`)).toEqual({ ours: false, hono: false });
  });

  it('answers nothing without the cookie or with an unsigned one', async () => {
    expect(await bothRead(undefined)).toEqual({ ours: null, hono: null });
    expect(await bothRead('other=1')).toEqual({ ours: null, hono: null });
    expect(await bothRead('holdfast_session=plain')).toEqual({ ours: null, hono: null });
  });
});
