// The Salesforce REST API stand-in: see server.ts (HTTP, budget, faults, counters), model.ts (org,
// objects, records, files), soql.ts (the SOQL subset), oauth.ts (authorize, token, JWT bearer) and
// metadata.ts (the Metadata API over SOAP), deploy.ts (its deploys), automation.ts (triggers,
// validation rules and flows acting on record writes), bulk-ingest.ts (Bulk API 2.0 ingest jobs)
// and seed.ts (a small demo org).
export {
  automationHook,
  parseFlow,
  parseRule,
  parseTrigger,
  seedDemoAutomation,
  triggerActive,
} from './automation.ts';
export { BulkIngest } from './bulk-ingest.ts';
export { type ComponentMessage, DeployApi, type DeployRecord } from './deploy.ts';
export { type Component, METADATA_NS, METADATA_TYPES, MetadataApi, MetadataStore } from './metadata.ts';
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
export { chainObjectName, defineChainObjects, seedChain } from './seed-chain.ts';
export {
  type AccountHierarchy,
  defineHierarchyObjects,
  deleteAccountHierarchy,
  seedAccountHierarchy,
} from './seed-hierarchy.ts';
export { defineLeadObject, seedLead } from './seed-leads.ts';
export { API_VERSION, FakeSalesforce, type FakeSalesforceOptions, type FaultKind } from './server.ts';
export { parseSoql } from './soql.ts';
