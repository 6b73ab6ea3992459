// The Salesforce REST API stand-in: see server.ts (HTTP, budget, faults, counters), model.ts (org,
// objects, records, files), soql.ts (the SOQL subset), oauth.ts (authorize, token, JWT bearer) and
// seed.ts (a small demo org).
export {
  ApiError,
  type FieldDef,
  type FieldType,
  Org,
  type RecordValues,
  SObject,
  sfDateTime,
} from './model.ts';
export { OAuthServer } from './oauth.ts';
export { type DemoOrgOptions, defineDemoObjects, seedDemoOrg } from './seed.ts';
export { API_VERSION, FakeSalesforce, type FakeSalesforceOptions, type FaultKind } from './server.ts';
export { parseSoql } from './soql.ts';
