// What a PSA kind (Autotask, ConnectWise Manage) provides to the shared ticket logic
// (psa-tickets.ts) and the company mapping (psa-companies.ts): its companies, and opening,
// noting and closing a ticket. Each call throws IntegrationSendError with a reason a person can
// act on; `psaCall` is the one place a PSA's HTTP answer becomes that reason.
import { z } from 'zod';
import { IntegrationSendError } from './contract.ts';
import { type JsonAnswer, requestJson } from './http-json.ts';

export interface PsaCompany {
  id: string;
  name: string;
}

export interface PsaTicket {
  companyId: string;
  title: string;
  description: string;
}

export interface PsaClient {
  /** Companies whose name contains `search` (all, when empty), at most 25, by name. */
  companies(search: string): Promise<PsaCompany[]>;
  /** The active company with this id (what the picker could list), or null. */
  company(id: string): Promise<PsaCompany | null>;
  /** Opens a ticket with the integration's defaults; returns the PSA's ticket id. */
  openTicket(ticket: PsaTicket): Promise<string>;
  /** A ticket not closed, of this company, with exactly this title (one whose opening answer was lost). */
  findOpenTicket(companyId: string, title: string): Promise<string | null>;
  addNote(ticketId: string, title: string, text: string): Promise<void>;
  /** Whether the ticket has a note containing `marker` (one whose answer was lost). */
  hasNote(ticketId: string, marker: string): Promise<boolean>;
  /** Sets the integration's "closed" status (the note saying why is added before). */
  closeTicket(ticketId: string): Promise<void>;
}

/** The settings every PSA kind shares: where unmapped accounts go, and whether a success closes. */
export const psaCommonSchema = z.object({
  // Both PSAs number their companies; a name here would fail every ticket it is used for.
  defaultCompanyId: z
    .string()
    .trim()
    .regex(/^\d{0,18}$/, { error: 'Enter the company’s id in the PSA (a number, shown by Choose company below).' })
    .optional()
    .transform((v) => v || undefined),
  closeOnSuccess: z.boolean().default(true),
});

export const psaCommonFields = [
  {
    name: 'defaultCompanyId',
    label: 'Company for accounts not mapped (its id in the PSA)',
    type: 'text' as const,
    optional: true,
    hint: 'Left empty, failures of accounts without a company mapping open no ticket.',
  },
  {
    name: 'closeOnSuccess',
    label: 'Close the ticket when the task backs up successfully again',
    type: 'checkbox' as const,
    defaultOn: true,
    hint: 'Off: a note says it succeeded; the ticket stays open for a person to close.',
  },
];

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

const wholeNumber = (what: string) =>
  z.coerce
    .number({ error: `Enter the ${what} as a number.` })
    .int({ error: `Enter the ${what} as a whole number.` })
    .positive({ error: `Enter the ${what} as a number above 0.` });

/** A whole number above 0, typed in a form or sent as JSON. */
export const positiveInt = (what: string) => z.preprocess((v) => (isEmpty(v) ? undefined : v), wholeNumber(what));

/** The same, optional: left empty, `fallback` (or none). */
export const optionalPositiveInt = (what: string, fallback?: number) =>
  z.preprocess((v) => (isEmpty(v) ? undefined : v), wholeNumber(what).optional()).transform((v) => v ?? fallback);

/** One request to a PSA; a refusal or no answer becomes an IntegrationSendError naming the PSA. */
export async function psaCall(
  label: string,
  credentialsHint: string,
  method: 'GET' | 'POST' | 'PATCH',
  url: URL,
  headers: Record<string, string>,
  body: unknown,
  allowPrivate: boolean,
  reasonOf: (answer: JsonAnswer) => string,
): Promise<Record<string, unknown>> {
  let answer: JsonAnswer;
  try {
    answer = await requestJson(
      method,
      url,
      { 'user-agent': 'Holdfast-Integrations/1', ...headers },
      body === undefined ? null : JSON.stringify(body),
      allowPrivate,
    );
  } catch (err) {
    throw new IntegrationSendError(`${label} did not answer at ${url.host}: ${(err as Error).message}`);
  }
  if (answer.status >= 200 && answer.status < 300) return answer.json ?? {};
  const said = reasonOf(answer) || 'no reason given';
  if (answer.status === 401 || answer.status === 403) {
    throw new IntegrationSendError(
      `${label} refused the credentials (HTTP ${answer.status}: ${said}). ${credentialsHint}`,
    );
  }
  throw new IntegrationSendError(`${label} answered HTTP ${answer.status} to ${method} ${url.pathname}: ${said}`);
}
