// The retry rhythm of queued mail, shared by identity mail (mailer.ts) and the notification
// sender (core/notifications/sender.ts), which both claim a mail before an attempt.

/** How long a claimed mail is held before another attempt may take it (a send times out sooner). */
export const SEND_LEASE_MS = 5 * 60_000;

/** Exponential backoff: base, 2×base, 4×base … capped at an hour. */
export function mailRetryDelayMs(attempt: number, baseSeconds: number): number {
  return Math.min(3_600_000, baseSeconds * 1000 * 2 ** Math.max(0, attempt - 1));
}
