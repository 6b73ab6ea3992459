// Builds the real app in-process on a fresh data folder, for app.request() tests.
import { Writable } from 'node:stream';
import type { Hono } from 'hono';
import { createApp } from '../../core/app.ts';
import { type Kernel, openKernel } from '../../core/appliance.ts';
import type { AppEnv } from '../../core/http/env.ts';
import { createLogger } from '../../core/logging.ts';
import { tempDir, testConfig } from './config.ts';

export interface TestApp {
  app: Hono<AppEnv>;
  kernel: Kernel;
  dataDir: string;
  /** Everything the app logged, as raw JSON lines. */
  logs: string[];
  close(): Promise<void>;
}

export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dir = tempDir();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = testConfig(dir.path, env);
  const kernel = await openKernel(config, createLogger('debug', sink));
  return {
    app: createApp(kernel.deps),
    kernel,
    dataDir: dir.path,
    logs,
    close: async () => {
      await kernel.close();
      dir.remove();
    },
  };
}

export const ADMIN = {
  organizationName: 'Acme Managed Services',
  email: 'admin@acme.example',
  password: 'Correct-Horse-42-battery',
} as const;

export const ORIGIN = 'http://localhost';

export function form(fields: Record<string, string>): {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
} {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
    body: new URLSearchParams(fields).toString(),
  };
}

export async function completeSetupVia(app: Hono<AppEnv>): Promise<Response> {
  return app.request('/setup', form({ ...ADMIN, confirmPassword: ADMIN.password }));
}

/** Signs in and returns the Cookie header value for later requests. */
export async function signIn(
  app: Hono<AppEnv>,
  email: string = ADMIN.email,
  password: string = ADMIN.password,
): Promise<string> {
  const res = await app.request('/login', form({ email, password, next: '/' }));
  if (res.status !== 303) throw new Error(`login failed with ${res.status}`);
  const cookie = res.headers.get('set-cookie');
  if (!cookie) throw new Error('login set no cookie');
  return cookie.split(';')[0] as string;
}

/** The third argument of app.request(): a socket peer address, as the Node adapter provides it. */
export function fromAddress(address: string): { incoming: { socket: Record<string, unknown> } } {
  return {
    incoming: {
      socket: { remoteAddress: address, remotePort: 40_000, remoteFamily: address.includes(':') ? 'IPv6' : 'IPv4' },
    },
  };
}
