// What a System Activity event means for a PSA ticket (core/integrations/psa-tickets.ts): failed
// backups and disconnections are failures, successful backups and reconnections successes,
// everything else nothing; a ticket's title names the account, the task and the item (the task itself for a run
// without an item), never reading a run without an item as a disconnection.
import { describe, expect, it } from 'vitest';
import type { IntegrationEvent } from '../../core/integrations/event-feed.ts';
import { ticketOutcome, ticketTitle } from '../../core/integrations/psa-tickets.ts';

const event = (action: string, status: string, details: Record<string, unknown> = {}): IntegrationEvent => ({
  id: 'activity-7',
  time: '2026-12-07T06:21:56.000Z',
  log: 'activity',
  organization: { id: 'o1', name: 'Northwind', kind: 'customer', path: ['MSP One', 'Northwind'] },
  actor: null,
  action,
  status,
  details: { taskId: 't1', taskName: 'Mailboxes', ...details },
});

describe('PSA ticket outcomes', () => {
  it('reads failures, successes and nothing', () => {
    expect(ticketOutcome(event('Backup', 'failed', { item: 'anna@northwind.example' }))).toEqual({
      kind: 'failure',
      item: 'anna@northwind.example',
    });
    expect(ticketOutcome(event('Backup', 'succeeded', { item: 'anna@northwind.example' }))).toEqual({
      kind: 'success',
      item: 'anna@northwind.example',
    });
    expect(ticketOutcome(event('Task disconnected', 'failed'))).toEqual({ kind: 'failure', item: '' });
    // Connected again: the connection's success, which closes the "disconnected" ticket.
    expect(ticketOutcome(event('Task reconnected', 'succeeded'))).toEqual({ kind: 'success', item: '' });
    for (const [action, status] of [
      ['Backup', 'partially_succeeded'],
      ['Backup', 'canceled'],
      ['Restore', 'failed'],
      ['Export', 'failed'],
    ] as const) {
      expect(ticketOutcome(event(action, status, { item: 'x' }))).toBeNull();
    }
    expect(ticketOutcome({ ...event('Backup', 'failed'), details: { taskId: null } })).toBeNull();
  });

  it('names a run without an item by its task, not as a disconnection', () => {
    const run = event('Backup', 'failed', { item: null });
    const outcome = ticketOutcome(run);
    expect(outcome).toEqual({ kind: 'failure', item: 'Mailboxes' });
    expect(ticketTitle(run, outcome?.item ?? '')).toBe('Backup failed: Northwind · Mailboxes · Mailboxes');
    expect(ticketTitle(event('Task disconnected', 'failed'), '')).toBe('Task disconnected: Northwind · Mailboxes');
    const long = event('Backup', 'failed', { item: 'x'.repeat(400) });
    expect(ticketTitle(long, 'x'.repeat(400))).toHaveLength(250);
  });
});
