// Shared OpenAPI schemas of /api/v1.
import { z } from '@hono/zod-openapi';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string().openapi({ example: 'There is nothing at this address.' }),
      fields: z.record(z.string(), z.string()).optional().openapi({ description: 'Per-field problems of a payload.' }),
    }),
  })
  .openapi('Error');

export function errorResponses(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: 'The request is malformed.',
    401: 'No valid session or API credential.',
    403: 'Not allowed.',
    404: 'Not found (or owned by another tenant).',
    410: 'Gone: the link has expired.',
    422: 'The payload failed validation.',
    503: 'The appliance is not set up yet, or a dependency is unavailable.',
  };
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: descriptions[s] ?? 'Error', content: { 'application/json': { schema: ErrorSchema } } },
    ]),
  );
}
