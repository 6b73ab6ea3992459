// The restore clean-up at an appliance's start (recovery-steps.ts): the undo steps that restores
// which died with a process left at their services. Several nodes of a cluster start at once (a
// deploy, a restart of the whole stack); each step must be undone once, not by every node — a
// second "switch the automation back on" after a new restore switched it off again would undo
// that restore's change. So the listing and the run are one round under a cluster lease (the
// guard: core/scheduler/singleton.ts; on SQLite the appliance is one process and runs it as is):
// a node that finds the lease held skips, and the holder lists the steps afresh, after any
// other node's round has deleted those it did.
import type { RoundGuard } from '../pass-loop.ts';
import { orphanedSteps, runOrphanedSteps, type StartupRecoveryContext } from './recovery-steps.ts';

export interface StartupCleanUp {
  /** Settles when the round has run (or was skipped, or failed: logged, never thrown). */
  done: Promise<void>;
}

/**
 * Starts the round in the background. Resolves once the steps are listed: the caller's job runner
 * may claim jobs from then on (a job it claimed before the listing would be this process's own,
 * and a step of it could look orphaned — see `leaseHolderGone`).
 */
export async function startRestoreCleanUp(c: StartupRecoveryContext & { guard: RoundGuard }): Promise<StartupCleanUp> {
  let listed: () => void = () => undefined;
  const listing = new Promise<void>((resolve) => {
    listed = resolve;
  });
  const done = c
    .guard(async () => {
      const steps = await orphanedSteps(c.em, c.now()).finally(listed);
      if (steps.length === 0) return undefined;
      c.log.info({ steps: steps.length }, 'undoing changes restores left at services');
      const outcome = await runOrphanedSteps(c, steps);
      c.log.info(outcome, 'restore clean-up steps run');
      return undefined;
    })
    .then(
      () => undefined,
      (err: unknown) => c.log.warn({ err }, 'restore clean-up steps could not run'),
    )
    // Skipped (another node's round) or failed before listing: nothing listed to wait for.
    .finally(listed);
  await listing;
  return { done };
}
