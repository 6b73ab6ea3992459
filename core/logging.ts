// Structured JSON logs (pino). Secrets are redacted by path so a careless log call cannot
// leak a password, a token, a cookie or a key. On a terminal the same records are printed as
// readable lines (pino-pretty); pipes, files and Docker (NODE_ENV=production) get JSON.
import { createRequire } from 'node:module';
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

/** Readable lines only for a person at a terminal; JSON for log collectors and containers. */
export function prettyLogsWanted(stdoutIsTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return stdoutIsTTY === true && env.NODE_ENV !== 'production';
}

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/**
 * pino-pretty is a devDependency (installed by `npm ci`, left out of the Docker image's
 * `--omit=dev`): where it is absent the logs simply stay JSON.
 */
function loadPretty(): PrettyFactory | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as PrettyFactory;
  } catch {
    return undefined;
  }
}

/** Whether this process's own logs (no destination given) come out as readable lines. */
export function terminalLogs(): boolean {
  return prettyLogsWanted(process.stdout.isTTY, process.env) && loadPretty() !== undefined;
}

function prettyStream(destination: DestinationStream | undefined): DestinationStream | undefined {
  const pretty = loadPretty();
  if (!pretty) return destination;
  return pretty({
    colorize: destination === undefined,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name',
    singleLine: true,
    sync: true,
    ...(destination ? { destination } : {}),
  });
}

/**
 * `pretty` defaults to "stdout is a terminal" when no destination is given; tests pass it
 * explicitly with their own destination.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  options: { pretty?: boolean } = {},
): Logger {
  const pretty = options.pretty ?? (destination === undefined && terminalLogs());
  return pino(
    {
      name: 'holdfast',
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pretty ? prettyStream(destination) : destination,
  );
}

/** For the CLI: logs go to stderr so stdout carries only the command's result. */
export function createStderrLogger(level: string): Logger {
  return createLogger(level, pino.destination({ fd: 2, sync: true }));
}
