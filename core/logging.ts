// Structured JSON logs (pino). Secrets are redacted by path so a careless log call cannot
// leak a password, a token, a cookie or a key.
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'masterKey',
  '*.masterKey',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'holdfast',
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** For the CLI: logs go to stderr so stdout carries only the command's result. */
export function createStderrLogger(level: string): Logger {
  return createLogger(level, pino.destination({ fd: 2, sync: true }));
}
