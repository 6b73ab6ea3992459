// The mail of a notification for one recipient: subject, plain text and HTML, greeting the
// recipient by name, naming the organization and task, linking to the appliance's public
// address (never a request's Host header: see core/system/public-url.ts).

import type { NotificationPayload, NotificationType } from './entities.ts';
import type { Addressee } from './recipients.ts';
import { summaryBody } from './summary-render.ts';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const STATE_WORDS: Record<string, string> = {
  succeeded: 'succeeded',
  partially_succeeded: 'partially succeeded',
  failed: 'failed',
  canceled: 'was canceled',
};

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  );
}

function listed(names: readonly string[] | undefined, max = 20): string[] {
  const all = names ?? [];
  return all.length > max ? [...all.slice(0, max), `and ${all.length - max} more`] : [...all];
}

interface Body {
  subject: string;
  /** Paragraphs of plain text. */
  lines: string[];
  /** Items listed under the paragraphs. */
  items?: string[];
  /** A table after the paragraphs (the summary report), as text lines and as HTML. */
  table?: { text: string[]; html: string };
}

function bodyOf(type: NotificationType, p: NotificationPayload): Body {
  const task = p.taskName ? `task "${p.taskName}"` : 'a task';
  const org = p.organizationName;
  const what = p.items?.[0] ? `${p.items[0]} in ${task}` : task;
  if (type === 'exceptions') {
    if (p.event === 'verification') {
      return {
        subject: `${p.title ?? 'Verification found damage'} (${org})`,
        lines: [p.message ?? ''],
        ...(p.items?.length ? { items: listed(p.items) } : {}),
      };
    }
    if (p.event === 'resolved') {
      return {
        subject: `Resolved: backups of ${p.taskName ?? 'a task'} succeed again (${org})`,
        lines: [`The backup problem of ${task} of ${org} is resolved: the last run succeeded.`],
      };
    }
    if (p.event === 'drill_failed') {
      return {
        subject: `Restore drill failed: ${p.taskName ?? 'a task'} (${org})`,
        lines: [
          `A restore drill of ${task} of ${org} could not restore every sampled item as backed up: ${p.reason ?? 'no reason given'}`,
          'The drill restored into a scratch folder on the appliance, never to the service. You get one mail per incident, and another when a drill passes again.',
        ],
        items: listed(p.items),
      };
    }
    if (p.event === 'drill_passed') {
      return {
        subject: `Resolved: restore drills of ${p.taskName ?? 'a task'} pass again (${org})`,
        lines: [`The latest restore drill of ${task} of ${org} restored every sampled item as backed up.`],
      };
    }
    if (p.event === 'reconnected') {
      return {
        subject: `Resolved: ${p.taskName ?? 'a task'} is connected again (${org})`,
        lines: [`The service accepts the credentials of ${task} of ${org} again: its backups resume.`],
      };
    }
    if (p.event === 'storage_down') {
      const location = p.items?.[0] ?? 'a storage location';
      return {
        subject: `Storage location not answering: ${location} (${org})`,
        lines: [
          `The storage location "${location}" of ${org} did not answer when a backup or maintenance needed it: ${p.reason ?? 'no reason given'}`,
          'Backups kept there fail until it answers again. You get one mail per outage, and another when it is back.',
        ],
      };
    }
    if (p.event === 'storage_up') {
      const location = p.items?.[0] ?? 'a storage location';
      return {
        subject: `Resolved: storage location ${location} answers again (${org})`,
        lines: [`The storage location "${location}" of ${org} answers again: backups kept there resume.`],
      };
    }
    if (p.event === 'integration_failed') {
      const integration = p.items?.[0] ?? 'An integration';
      return {
        subject: `Integration failing: ${integration} (${org})`,
        lines: [
          `The integration ${integration} of ${org} could not deliver events: ${p.reason ?? 'no reason given'}`,
          'Its events wait and are sent when it works again; none are lost. You get one mail per failure, and another when it delivers again.',
        ],
      };
    }
    if (p.event === 'integration_recovered') {
      const integration = p.items?.[0] ?? 'An integration';
      return {
        subject: `Resolved: integration ${integration} delivers again (${org})`,
        lines: [`The integration ${integration} of ${org} delivers events again, including those that waited.`],
      };
    }
    if (p.event === 'disconnected') {
      return {
        subject: `Task disconnected: ${p.taskName ?? 'a task'} (${org})`,
        lines: [
          `The service refused the credentials of ${task} of ${org}: ${p.reason ?? 'no reason given'}`,
          'Backups stop until the task is authenticated again. You get one mail per incident.',
        ],
      };
    }
    const state = STATE_WORDS[p.jobState ?? 'failed'] ?? 'failed';
    return {
      subject: `Backup ${state}: ${p.taskName ?? 'a task'} (${org})`,
      lines: [
        `The backup of ${what} of ${org} ${state}${p.reason ? `: ${p.reason}` : '.'}`,
        'You get one mail per incident, not one per retry, and another when it is resolved.',
      ],
    };
  }
  if (type === 'recovery') {
    const kind = p.jobKind === 'export' ? 'Export' : 'Restore';
    const state = STATE_WORDS[p.jobState ?? 'succeeded'] ?? 'ended';
    return {
      subject: `${kind} ${state}: ${p.jobLabel ?? p.taskName ?? ''} (${org})`.replace(/:\s+\(/, ' ('),
      lines: [
        `The ${kind.toLowerCase()} "${p.jobLabel ?? ''}" of ${task} of ${org} ${state}${p.reason ? `: ${p.reason}` : '.'}`,
      ],
    };
  }
  if (type === 'discovery') {
    const found = p.items?.length ?? 0;
    const archived = p.archived?.length ?? 0;
    const parts = [found ? `${found} new item${found === 1 ? '' : 's'}` : '', archived ? `${archived} archived` : '']
      .filter(Boolean)
      .join(', ');
    return {
      subject: `${p.taskName ?? 'Task'}: ${parts} (${org})`,
      lines: [
        found
          ? `Discovery found new items in ${task} of ${org}: ${listed(p.items).join(', ')}.`
          : `Discovery in ${task} of ${org}.`,
        ...(archived
          ? [`No longer listed by the service, archived (their backups are kept): ${listed(p.archived).join(', ')}.`]
          : []),
      ],
    };
  }
  if (type === 'smart_alerts') {
    return { subject: `${p.title ?? 'Smart alert'} (${org})`, lines: [p.message ?? ''] };
  }
  if (type === 'trials') {
    // The Trial accounts report (core/billing/trials.ts): trials that ended (backups paused) and those ending soon.
    return {
      subject: `Trial accounts report (${org})`,
      lines: [p.message ?? '', ...(p.items?.length ? [`Trials ended: ${listed(p.items).join(', ')}.`] : [])],
    };
  }
  if (p.summary) {
    const s = summaryBody(org, p.summary);
    return { subject: s.subject, lines: s.lines, table: { text: s.text, html: s.html } };
  }
  return { subject: `Summary report (${org})`, lines: [p.message ?? ''] };
}

export function renderNotification(
  type: NotificationType,
  payload: NotificationPayload,
  to: Addressee,
  origin: string | undefined,
): RenderedMail {
  const body = bodyOf(type, payload);
  const link = payload.linkPath && origin ? `${origin}${payload.linkPath}` : null;
  const linkLabel = payload.linkLabel ?? 'Open in Holdfast';
  const text = [
    `Hello ${to.displayName},`,
    '',
    ...body.lines.flatMap((l) => [l, '']),
    ...(body.table?.text ?? []),
    ...(link ? [`${linkLabel}: ${link}`, ''] : []),
    '-- ',
    'Holdfast notifications. Who receives them is set under Settings › Notifications.',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1f2937">',
    `<p>Hello ${escapeHtml(to.displayName)},</p>`,
    ...body.lines.map((l) => `<p>${escapeHtml(l)}</p>`),
    ...(body.table ? [body.table.html] : []),
    ...(link ? [`<p><a href="${escapeHtml(link)}">${escapeHtml(linkLabel)}</a></p>`] : []),
    '<p style="color:#6b7280;font-size:0.875em">Holdfast notifications. Who receives them is set under Settings › Notifications.</p>',
    '</body></html>',
  ].join('\n');
  return { subject: body.subject.replace(/\s+/g, ' ').slice(0, 300), text, html };
}
