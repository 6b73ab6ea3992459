// Logs a person can read on a terminal; JSON everywhere else (pipes, files, Docker).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLogsWanted } from '../../core/logging.ts';
import { startupBanner } from '../../core/startup-banner.ts';

function collector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('log format', () => {
  it('is human-readable on a terminal, JSON when piped or in production (Docker)', () => {
    expect(prettyLogsWanted(true, {})).toBe(true);
    expect(prettyLogsWanted(false, {})).toBe(false);
    expect(prettyLogsWanted(undefined, {})).toBe(false);
    expect(prettyLogsWanted(true, { NODE_ENV: 'production' })).toBe(false);
  });

  it('writes a readable line with level and message, secrets still redacted', () => {
    const out = collector();
    const log = createLogger('info', out.stream, { pretty: true });
    log.info({ password: 'hunter2hunter2', job: 7 }, 'backup started');
    const line = out.text();
    expect(line).toMatch(/INFO.*backup started/);
    expect(line).not.toMatch(/^\{/);
    expect(line).toContain('"job":7');
    expect(line).not.toContain('hunter2hunter2');
  });
});

describe('start-up banner', () => {
  const info = { version: '1.2.3', url: 'http://localhost:8080', dataDir: '/srv/holdfast' };

  it('names the version, the address and the data folder, and points to setup until it is done', () => {
    const text = startupBanner({ ...info, setupComplete: false }).join('\n');
    expect(text).toContain('Holdfast 1.2.3');
    expect(text).toContain('http://localhost:8080');
    expect(text).toContain('/srv/holdfast');
    expect(text).toContain('open http://localhost:8080/setup to create the administrator');
  });

  it('drops the setup hint once an administrator exists', () => {
    const text = startupBanner({ ...info, setupComplete: true }).join('\n');
    expect(text).not.toContain('/setup');
    expect(text).toContain('http://localhost:8080');
  });
});
