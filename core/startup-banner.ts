// The lines `npm start` shows a person at a terminal once the appliance listens: what runs,
// where to open it, where its data lives, and, until an administrator exists, where to start.
import type { Logger } from './logging.ts';

export interface StartupInfo {
  version: string;
  url: string;
  dataDir: string;
  setupComplete: boolean;
}

export function startupBanner(info: StartupInfo): string[] {
  return [
    `Holdfast ${info.version} is running`,
    `  Address:     ${info.url}`,
    `  Data folder: ${info.dataDir}`,
    ...(info.setupComplete ? [] : [`  Next step:   open ${info.url}/setup to create the administrator`]),
  ];
}

/**
 * Logs the start: one structured record (with the same facts as fields) for log collectors, and
 * on a terminal the banner as its message.
 */
export function announceStart(log: Logger, info: StartupInfo & { port: number }, pretty: boolean): void {
  const { setupComplete, ...fields } = info;
  const message = pretty
    ? startupBanner(info).join('\n')
    : setupComplete
      ? 'Holdfast is running'
      : `Holdfast is running: open ${info.url}/setup to create the first administrator`;
  log.info(pretty ? {} : fields, message);
}
