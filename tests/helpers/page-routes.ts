// The app's routes as tests enumerate them: which anyone may call, and which kind of object a
// route's :id names. Shared by the route-by-route tenant isolation test
// (tests/integration/identity/isolation.test.ts) and the customer privacy option's test
// (tests/integration/partner-access.test.ts): a route added to the app fails both until it is
// placed here.

/** Routes anyone may call. */
export const PUBLIC: RegExp[] = [
  /^\/healthz$/,
  /^\/readyz$/,
  // The operator's scraper, with its own token and address list (metrics.test.ts).
  /^\/metrics$/,
  /^\/static\//,
  /^\/favicon\.ico$/,
  /^\/setup$/,
  /^\/login(\/|$)/,
  /^\/logout$/,
  /^\/confirm-email\//,
  /^\/forgot-password$/,
  /^\/reset-password\//,
  // Single sign-on: a provider's start and callback (the pending sign-in protects the callback),
  // a SAML provider's SP metadata (what IdPs fetch) and single logout (the IdP's signed request).
  /^\/sso\/(start|callback|metadata|logout)\//,
  /^\/api\/v1\/(status|openapi\.json|docs|oauth\/token)$/,
];

/** Which kind of object a route's :id names, by path. */
export type IdKind =
  | 'user'
  | 'ipRule'
  | 'organization'
  | 'apiKey'
  | 'storageLocation'
  | 'task'
  | 'activity'
  | 'job'
  | 'recipient'
  | 'summaryReport'
  | 'webhook'
  | 'integration'
  | 'integrationKind'
  | 'invoice'
  | 'plan'
  | 'ssoProvider'
  | 'ssoDomain';
export const ID_KINDS: [RegExp, IdKind][] = [
  [/^\/settings\/users\/:id/, 'user'],
  [/^\/settings\/security\/sso\/providers\/:id/, 'ssoProvider'],
  [/^\/settings\/security\/sso\/domains\/:id/, 'ssoDomain'],
  [/^\/settings\/ip-restrictions\/:id/, 'ipRule'],
  [/^\/settings\/notifications\/:id/, 'recipient'],
  [/^\/settings\/webhooks\/:id/, 'webhook'],
  [/^\/settings\/integrations\/new\/:kind/, 'integrationKind'],
  [/^\/settings\/integrations\/:id/, 'integration'],
  [/^\/reports\/summary\/:file/, 'summaryReport'],
  [/^\/compare\/:jobId/, 'job'],
  [/^\/settings\/api\/:id/, 'apiKey'],
  [/^\/settings\/api\/keys\/:clientId/, 'apiKey'],
  [/^\/portal\/accounts\/:id/, 'organization'],
  [/^\/billing\/plans\/:id/, 'plan'],
  [/^\/billing\/invoices\/:id/, 'invoice'],
  [/^\/settings\/storage\/:id/, 'storageLocation'],
  [/^\/recovery\/tasks\/:taskId/, 'task'],
  [/^\/activity\/events\/:id/, 'activity'],
  [/^\/tasks\/:id/, 'task'],
  [/^\/api\/v1\/tasks\/:id/, 'task'],
  [/^\/jobs\/:id/, 'job'],
  [/^\/api\/v1\/jobs\/:id/, 'job'],
  [/^\/api\/v1\/organizations\/:id\/users\/:userId/, 'user'],
  [/^\/api\/v1\/organizations\/:id/, 'organization'],
  [/^\/api\/v1\/users\/:id/, 'user'],
  [/^\/api\/v1\/ip-rules\/:id/, 'ipRule'],
  [/^\/api\/v1\/api-keys\/:id/, 'apiKey'],
];

/** Every route of the app once (method and path), as Hono lists them. */
export function appRoutes(app: { routes: { method: string; path: string }[] }): { method: string; path: string }[] {
  const seen = new Set<string>();
  return app.routes
    .filter((r) => r.method !== 'ALL')
    .filter((r) => {
      const key = `${r.method} ${r.path}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((r) => ({ method: r.method, path: r.path }));
}

/** The route's path with every parameter replaced by `id`. */
export function concrete(route: { path: string }, id: string): string {
  return route.path.replace(/:[A-Za-z]+(\{[^}]*\})?/g, id);
}
