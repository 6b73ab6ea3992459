// The appliance as the integrations' tests run it (Splunk, syslog, PSAs, Backup Radar): a kernel
// in a data folder of its own with loopback mail, opened when the test wants it; what a test
// starts is closed after it, last started first.
import { afterEach } from 'vitest';
import { type Kernel, openKernel } from '../../core/appliance.ts';
import { createLogger } from '../../core/logging.ts';
import { tempDir, testConfig } from './config.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from './smtp.ts';

export const silentLog = createLogger('silent');

/** Registers the file's after-each clean-up; returns what adds to it (run in reverse order). */
export function cleanUpAfterEach(): (...steps: (() => Promise<void> | void)[]) => void {
  const steps: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return (...more) => {
    steps.push(...more);
  };
}

export interface MailedAppliance {
  smtp: LoopbackSmtp;
  /** Opens the kernel (a test may open it again, as a restart). */
  open(): Promise<Kernel>;
}

/**
 * Loopback mail and a data folder, with the settings the integrations' mails and webhooks need
 * (a public URL, a minute's mail retry, private addresses allowed for the loopback receivers).
 */
export async function mailedAppliance(
  cleanUp: ReturnType<typeof cleanUpAfterEach>,
  env: Record<string, string> = {},
): Promise<MailedAppliance> {
  const smtp = await startLoopbackSmtp();
  const dir = tempDir();
  cleanUp(dir.remove, () => smtp.close());
  const config = testConfig(dir.path, {
    HOLDFAST_SMTP_URL: smtp.url,
    HOLDFAST_PUBLIC_URL: 'https://backup.example.test',
    HOLDFAST_MAIL_RETRY_BASE_SECONDS: '60',
    HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true',
    ...env,
  });
  return { smtp, open: () => openKernel(config, silentLog) };
}
