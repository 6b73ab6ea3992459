// The options of a Salesforce restore (the plugin's `restoreOptions`, shown on the restore dialog
// by the kernel's form generator): the mode for records that exist at the target, how many levels
// of child records come with the chosen ones, "Disable triggers in restore" and "Activate inactive
// users". No jsforce here: the registry imports it.
import { z } from 'zod';
import { RECORD_MODES } from './restore-plan.ts';

export const salesforceRestoreOptions = z.object({
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
});

export type SalesforceRestoreOptions = z.output<typeof salesforceRestoreOptions>;
