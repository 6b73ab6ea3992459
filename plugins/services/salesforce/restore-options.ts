// The options of a Salesforce restore (the plugin's `restoreOptions`, shown on the restore dialog
// by the kernel's form generator): the mode for records that exist at the target, how many levels
// of child records come with the chosen ones, "Disable triggers in restore" and "Activate inactive
// users". No jsforce here: the registry imports it.
import { z } from 'zod';
import { RULE_ACTIONS } from './anonymize.ts';
import { RECORD_MODES } from './restore-plan.ts';
import { parseWhere, WhereError } from './where.ts';

/** The seed's deepest child hierarchy a replicate takes (6.3.1: "up to 7 levels"). */
export const REPLICATE_MAX_DEPTH = 7;

const apiName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, { error: 'An object is named by its API name.' });

/**
 * Replicate (seed 6.3.1): records of the whole snapshot round to another task's Sandbox org. Full
 * Organization takes every object's records; Multiple Parent Objects the parents' records (a
 * WHERE filter and a limit each) with their children down to `hierarchyDepth` (at most 7).
 * `what: 'metadata'` (seed 6.3.2) deploys the round's metadata components instead: every type
 * (Full Organization) or the `metadataTypes` named (Granular Selection).
 * Not on the restore dialog (the form generator shows scalar options): the Replicate form and the
 * API set it.
 */
export const replicateOptions = z.object({
  what: z.enum(['data', 'metadata']).default('data'),
  /** Metadata types (xmlName) of a metadata replicate; none: every type the backup holds. */
  metadataTypes: z
    .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, { error: 'A metadata type is named by its API name.' }))
    .max(500)
    .default([]),
  scope: z.enum(['full', 'parents']).default('parents'),
  parents: z
    .array(
      z.object({
        object: apiName,
        where: z
          .string()
          .max(2000)
          .default('')
          .superRefine((where, ctx) => {
            try {
              parseWhere(where);
            } catch (err) {
              if (!(err instanceof WhereError)) throw err;
              ctx.addIssue({ code: 'custom', message: err.message });
            }
          }),
        limit: z
          .number()
          .int({ error: 'The record limit is a whole number, 1 or more.' })
          .min(1, { error: 'The record limit is a whole number, 1 or more.' })
          .optional(),
      }),
    )
    .max(100)
    .default([]),
  anonymize: z.boolean().default(false),
  rules: z
    .array(
      z.object({
        object: z.union([z.literal('*'), apiName]),
        field: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, { error: 'A field is named by its API name.' }),
        action: z.enum(RULE_ACTIONS),
        value: z.string().max(255).optional(),
      }),
    )
    .max(5000)
    .default([]),
});

export type ReplicateOptions = z.output<typeof replicateOptions>;

export const salesforceRestoreOptions = z
  .object({
    recordMode: z
      .enum(RECORD_MODES)
      .default('overwrite')
      .describe(
        'Restore mode for existing records (Overwrite updates them to the backed-up values; Bypass leaves them untouched; Duplicate creates copies named with a date suffix. Deleted records are created again in every mode)',
      )
      .meta({ choiceLabels: { overwrite: 'Overwrite', bypass: 'Bypass', duplicate: 'Duplicate' } }),
    hierarchyDepth: z
      .number({ error: 'The hierarchy depth is a whole number, 0 or more.' })
      .int({ error: 'The hierarchy depth is a whole number, 0 or more.' })
      .min(0, { error: 'The hierarchy depth is a whole number, 0 or more.' })
      .default(0)
      .describe(
        'Hierarchy depth (0 restores the chosen records; 1 adds their child records, 2 the children of those, and so on, without limit)',
      ),
    disableAutomation: z
      .boolean()
      .default(false)
      .describe(
        'Disable triggers in restore (active Apex triggers, validation rules and record-triggered flows of the objects written are off while the restore runs, and on again after it)',
      ),
    /** Those objects (API names; the API only): default, every object the restore writes. */
    automationObjects: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, { error: 'An object is named by its API name.' }))
      .max(500)
      .optional(),
    activateInactiveUsers: z
      .boolean()
      .default(false)
      .describe('Activate inactive users (owners of restored records; deactivated again after the restore)'),
    /** A replicate instead of a restore of the chosen records (the Replicate form and the API). */
    replicate: replicateOptions.optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.replicate) return;
    if (o.hierarchyDepth > REPLICATE_MAX_DEPTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['hierarchyDepth'],
        message: `A replicate takes children up to ${REPLICATE_MAX_DEPTH} levels down.`,
      });
    }
    if (o.replicate.what === 'data' && o.replicate.scope === 'parents' && o.replicate.parents.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['replicate', 'parents'], message: 'Choose at least one parent object.' });
    }
  });

export type SalesforceRestoreOptions = z.output<typeof salesforceRestoreOptions>;
