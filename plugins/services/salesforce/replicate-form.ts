// The Replicate form (seed 6.3.1) as the plugin's `replicate` declares it: flat fields the kernel's
// form generator renders on the task page, turned into the restore options' `replicate` part.
// Parents: "Account WHERE Industry = 'Retail' LIMIT 100; Lead"; anonymization rules:
// "Contact.Email = keep; *.Phone = blank; Lead.Company = fixed Acme". No jsforce here.
import { z } from 'zod';
import { RULE_ACTIONS } from './anonymize.ts';
import { REPLICATE_MAX_DEPTH } from './restore-options.ts';
import { parseWhere, WhereError } from './where.ts';

/** Splits on `;` outside quotes. */
function parts(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "'" && text[i - 1] !== '\\') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.map((p) => p.trim()).filter(Boolean);
}

const PARENT = /^([A-Za-z][A-Za-z0-9_]{0,79})(?:\s+WHERE\s+(.*?))?(?:\s+LIMIT\s+(\d+))?$/is;
const RULE = /^(\*|[A-Za-z][A-Za-z0-9_]{0,79})\.([A-Za-z][A-Za-z0-9_]{0,79})\s*=\s*([a-z]+)(?:\s+(.*))?$/s;

type Parent = { object: string; where: string; limit?: number };
type Rule = { object: string; field: string; action: (typeof RULE_ACTIONS)[number]; value?: string };

/** "Account WHERE … LIMIT n; Lead" as parents, each problem an issue of the field. */
function parentsOf(text: string, ctx: z.RefinementCtx): Parent[] {
  const parents: Parent[] = [];
  for (const part of parts(text)) {
    const m = PARENT.exec(part);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `“${part}” is not Object [WHERE filter] [LIMIT n].` });
      continue;
    }
    const where = m[2] ?? '';
    try {
      parseWhere(where);
    } catch (err) {
      if (!(err instanceof WhereError)) throw err;
      ctx.addIssue({ code: 'custom', message: `${m[1]}: ${err.message}` });
    }
    const limit = m[3] ? Number(m[3]) : undefined;
    if (limit === 0) ctx.addIssue({ code: 'custom', message: `${m[1]}: the limit is 1 or more.` });
    parents.push({ object: m[1] as string, where, ...(limit ? { limit } : {}) });
  }
  return parents;
}

/** "Contact.Email = keep; Lead.Company = fixed Acme" as rules, each problem an issue of the field. */
function rulesOf(text: string, ctx: z.RefinementCtx): Rule[] {
  const rules: Rule[] = [];
  for (const part of parts(text)) {
    const m = RULE.exec(part);
    const action = m?.[3] as Rule['action'] | undefined;
    if (!m || !action || !RULE_ACTIONS.includes(action)) {
      ctx.addIssue({
        code: 'custom',
        message: `“${part}” is not Object.Field = keep, fake, random, blank or fixed <value>.`,
      });
      continue;
    }
    rules.push({ object: m[1] as string, field: m[2] as string, action, ...(m[4] ? { value: m[4].trim() } : {}) });
  }
  return rules;
}

const DEPTH_ERROR = `The hierarchy depth is a whole number from 0 to ${REPLICATE_MAX_DEPTH}.`;

/** "ApexClass; Layout" as metadata type names, each problem an issue of the field. */
function typesOf(text: string, ctx: z.RefinementCtx): string[] {
  const types: string[] = [];
  for (const part of parts(text)) {
    if (/^[A-Za-z][A-Za-z0-9_]{0,79}$/.test(part)) types.push(part);
    else ctx.addIssue({ code: 'custom', message: `“${part}” is not a metadata type name (e.g. ApexClass).` });
  }
  return [...new Set(types)];
}

export const replicateForm = z
  .object({
    what: z
      .enum(['data', 'metadata'])
      .default('data')
      .describe('Data or metadata')
      .meta({
        choiceLabels: {
          data: 'Data (records of the objects)',
          metadata: 'Metadata (Apex code, flows, layouts, profiles, …)',
        },
      }),
    scope: z
      .enum(['full', 'parents'])
      .default('parents')
      .describe('Which records (Data)')
      .meta({ choiceLabels: { full: 'Full Organization', parents: 'Multiple Parent Objects' } }),
    parents: z
      .string()
      .max(10_000)
      .default('')
      .transform(parentsOf)
      .describe(
        "Parent objects (Multiple Parent Objects: separated by semicolons, each with an optional filter and record limit, e.g. Account WHERE Industry = 'Retail' LIMIT 100; Lead)",
      ),
    hierarchyDepth: z
      .number({ error: DEPTH_ERROR })
      .int({ error: DEPTH_ERROR })
      .min(0, { error: DEPTH_ERROR })
      .max(REPLICATE_MAX_DEPTH, { error: DEPTH_ERROR })
      .default(1)
      .describe(`Child hierarchy depth (levels of child records under each parent, 0 to ${REPLICATE_MAX_DEPTH})`),
    metadataTypes: z
      .string()
      .max(10_000)
      .default('')
      .transform(typesOf)
      .describe(
        'Metadata types (Metadata: Granular Selection, separated by semicolons, e.g. ApexClass; Flow; Layout. Empty: Full Organization, every type the backup holds)',
      ),
    anonymize: z
      .boolean()
      .default(false)
      .describe('Anonymize data (names, emails, phones, addresses and notes get consistent fake values)'),
    rules: z
      .string()
      .max(20_000)
      .default('')
      .transform(rulesOf)
      .describe(
        'Anonymization rules instead of the template’s (separated by semicolons: Object.Field = keep, fake, random, blank or fixed <value>; * for every object, e.g. Contact.Title = random; *.Phone = blank)',
      ),
  })
  .transform((form, ctx) => {
    if (form.what === 'metadata') {
      return {
        hierarchyDepth: 0,
        replicate: {
          what: 'metadata' as const,
          metadataTypes: form.metadataTypes,
          scope: 'full' as const,
          parents: [],
          anonymize: false,
          rules: [],
        },
      };
    }
    if (form.scope === 'parents' && form.parents.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['parents'], message: 'Name at least one parent object.' });
    }
    return {
      hierarchyDepth: form.scope === 'full' ? 0 : form.hierarchyDepth,
      replicate: {
        what: 'data' as const,
        metadataTypes: [],
        scope: form.scope,
        parents: form.scope === 'parents' ? form.parents : [],
        anonymize: form.anonymize,
        rules: form.rules,
      },
    };
  });
