/**
 * The ceiling for one step of a test that waits on something outside it: a browser navigation or
 * selector state, a download, an appliance process starting, a job finishing. Such waits end as
 * soon as their event comes; the ceiling only has to hold on a busy 2-core machine (scrypt at
 * setup and sign-in, an appliance starting while other suites run), so it is generous. Whole
 * browser tests get the `browser` project's budgets in vitest.config.ts.
 */
export const STEP_TIMEOUT_MS = 120_000;
