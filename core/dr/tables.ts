// Which tables the configuration backup carries. Every table of the schema is named here, in one
// list or the other, so a new table is a decision (tests/integration/dr/config-backup.test.ts checks both
// lists against the migrated schema). Carried tables are restored in this order (parents first).
export const CONFIGURATION_TABLES = [
  'organizations',
  'users',
  // Single sign-on: each organization's identity providers (secrets sealed with the master key
  // the backup carries), verified e-mail domains and the identities linked to users.
  'sso_providers',
  'sso_domains',
  'external_identities',
  'recovery_codes',
  'api_keys',
  'ip_rules',
  'system_facts',
  'storage_locations',
  'organization_storage',
  'storage_verifications',
  'backup_tasks',
  'task_entities',
  'plugin_recovery_steps',
  'smart_alert_rules',
  'notification_recipients',
  'notification_incidents',
  'summary_report_settings',
  'webhook_endpoints',
  'integrations',
  'integration_companies',
  'integration_tickets',
  'account_health',
  'restore_drills',
  'drill_policies',
  // MSP billing: the plans, each account's billing settings and trial, and the invoices issued
  // (numbered records an MSP cannot make again).
  'price_plans',
  'billing_accounts',
  'invoices',
  'invoice_lines',
] as const;

/** Carried tables whose rows reference rows of the same table: written parents first. */
export const SELF_REFERENCES: Partial<Record<string, { key: string; parent: string }>> = {
  organizations: { key: 'id', parent: 'parent_id' },
};

/** Not carried, and why: rebuilt, short-lived, or history kept elsewhere. */
export const LEFT_OUT_TABLES: Record<string, string> = {
  catalog_repositories: 'rebuilt from the repositories by the recovery',
  catalog_snapshots: 'rebuilt from the repositories by the recovery',
  catalog_scopes: 'rebuilt from the repositories by the recovery',
  catalog_items: 'rebuilt from the repositories by the recovery',
  catalog_versions: 'rebuilt from the repositories by the recovery',
  catalog_items_fts: 'rebuilt from the repositories by the recovery',
  catalog_snapshot_damage: 'found again by the next scheduled verification',
  storage_repositories: 'recreated when the recovery re-attaches each repository',
  sessions: 'short-lived: everyone signs in again',
  api_tokens: 'short-lived: API clients fetch a new token with their key',
  login_throttles: 'short-lived counters',
  sso_pending_sign_ins: 'short-lived: a sign-in in progress lives 10 minutes',
  saml_assertion_uses: 'short-lived: SAML assertions expire within minutes',
  one_time_tokens: 'short-lived mail links',
  jobs: 'the queue and its history: runs in flight are started again by the schedule',
  activity_events: 'history (System Activity)',
  audit_events: 'history (security audit)',
  mail_messages: 'the outbox of mail',
  notifications: 'sent notifications',
  webhook_events: 'sent webhook events',
  webhook_deliveries: 'sent webhook events',
  summary_reports: 'report files offered for download',
  export_results: 'export files under the data folder',
  mail_files: 'files attached to queued mail (the outbox is not carried)',
  usage_samples: 'usage history: a recovered appliance samples usage again from its first day',
  usage_kind_samples: 'usage history per entity kind: sampled again like usage_samples',
  cluster_leases: 'which node of a cluster does background work now: taken afresh by the running nodes',
  subtree_health: 'counted again from account_health and organizations at every start',
  schema_migrations: 'written by the migrations of the recovering appliance',
};
