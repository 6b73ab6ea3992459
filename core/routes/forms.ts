// Reading urlencoded/multipart browser forms as plain string fields. File parts are not accepted
// here (no form of the kernel uploads files), and a malformed body is a 400, not a crash.
import type { Context } from 'hono';
import { AppError } from '../errors.ts';

/** Longest value any kernel form field accepts; longer values are cut before validation. */
export const MAX_FIELD_LENGTH = 4096;

/** `longer`: fields allowed past MAX_FIELD_LENGTH, with their own ceiling (a posted SAML response). */
export async function formFields(c: Context, longer: Record<string, number> = {}): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) {
    throw new AppError('unsupported_media_type', 'Send the form as application/x-www-form-urlencoded.', 415);
  }
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody();
  } catch {
    throw new AppError('bad_request', 'The form could not be read.', 400);
  }
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value !== 'string') throw new AppError('bad_request', 'This form does not accept files.', 400);
    fields[key] = value.slice(0, longer[key] ?? MAX_FIELD_LENGTH);
  }
  return fields;
}

/** The values of repeated fields (checkbox groups), e.g. permissions=a&permissions=b. */
export async function formLists(c: Context, names: readonly string[]): Promise<Record<string, string[]>> {
  const body = await c.req.parseBody({ all: true });
  const lists: Record<string, string[]> = {};
  for (const name of names) {
    const value = body[name];
    const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
    lists[name] = values.filter((v): v is string => typeof v === 'string').map((v) => v.slice(0, MAX_FIELD_LENGTH));
  }
  return lists;
}
