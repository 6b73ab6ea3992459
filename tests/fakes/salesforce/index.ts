// The Salesforce REST API stand-in: see server.ts (HTTP, budget, faults, counters), model.ts (org,
// objects, records, files), soql.ts (the SOQL subset), oauth.ts (authorize, token, JWT bearer) and
// metadata.ts (the Metadata API over SOAP) and seed.ts (a small demo org).
export { type Component, METADATA_TYPES, MetadataApi, MetadataStore } from './metadata.ts';
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
export { changeScaleOrg, type ScaleChange, type ScaleOrgOptions, scaleObjectName, seedScaleOrg } from './scale.ts';
export { type DemoOrgOptions, defineDemoObjects, seedDemoMetadata, seedDemoOrg } from './seed.ts';
export { API_VERSION, FakeSalesforce, type FakeSalesforceOptions, type FaultKind } from './server.ts';
export { parseSoql } from './soql.ts';
