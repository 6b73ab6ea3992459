// Applied in this order. `npm run holdfast -- migration create <name>` writes a new file
// here from the difference between the entities and the schema snapshot; add it to this
// list (a test checks that the list and the folder agree and that nothing is left to migrate).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122031249_kernel } from './Migration20261122031249_kernel.ts';
import { Migration20261122040541_catalog } from './Migration20261122040541_catalog.ts';
import { Migration20261122052349_identity } from './Migration20261122052349_identity.ts';
import { Migration20261122060439_catalog_scopes } from './Migration20261122060439_catalog_scopes.ts';
import { Migration20261122070656_jobs } from './Migration20261122070656_jobs.ts';
import { Migration20261122072821_storage_locations } from './Migration20261122072821_storage_locations.ts';
import { Migration20261122085006_system_activity } from './Migration20261122085006_system_activity.ts';
import { Migration20261122085444_export_results_downloads } from './Migration20261122085444_export_results_downloads.ts';
import { Migration20261207021900_api_key_scope } from './Migration20261207021900_api_key_scope.ts';
import { Migration20261207031006_catalog_fold_keys } from './Migration20261207031006_catalog_fold_keys.ts';
import { Migration20261207031743_entity_unavailable } from './Migration20261207031743_entity_unavailable.ts';
import { Migration20261207051337_catalog_editor } from './Migration20261207051337_catalog_editor.ts';
import { Migration20261207052000_user_time_zone } from './Migration20261207052000_user_time_zone.ts';
import { Migration20261207053000_plugin_recovery_steps } from './Migration20261207053000_plugin_recovery_steps.ts';
import { Migration20261207054500_notifications } from './Migration20261207054500_notifications.ts';
import { Migration20261207061246_account_health } from './Migration20261207061246_account_health.ts';
import { Migration20261207062245_webhooks } from './Migration20261207062245_webhooks.ts';
import { Migration20261207062246_smart_alerts } from './Migration20261207062246_smart_alerts.ts';
import { Migration20261207063000_summary_reports } from './Migration20261207063000_summary_reports.ts';
import { Migration20261207123122_portal_profile } from './Migration20261207123122_portal_profile.ts';
import { Migration20261207123127_restore_drills } from './Migration20261207123127_restore_drills.ts';
import { Migration20261207124358_daily_page_indexes } from './Migration20261207124358_daily_page_indexes.ts';
import { Migration20261207130000_storage_verifications } from './Migration20261207130000_storage_verifications.ts';
import { Migration20261207140000_integrations } from './Migration20261207140000_integrations.ts';
import { Migration20261207140000_snapshot_damage } from './Migration20261207140000_snapshot_damage.ts';
import { Migration20261207141500_drill_policies } from './Migration20261207141500_drill_policies.ts';
import { Migration20261207153000_catalog_content_id } from './Migration20261207153000_catalog_content_id.ts';
import { Migration20261207153000_single_sign_on } from './Migration20261207153000_single_sign_on.ts';
import { Migration20261207160000_billing } from './Migration20261207160000_billing.ts';
import { Migration20261207160000_psa_tickets } from './Migration20261207160000_psa_tickets.ts';
import { Migration20261207160000_saml_assertion_uses } from './Migration20261207160000_saml_assertion_uses.ts';
import { Migration20261207164500_partner_access_index } from './Migration20261207164500_partner_access_index.ts';
import { Migration20261207183620_billing_payment_details } from './Migration20261207183620_billing_payment_details.ts';
import { Migration20261207193547_psa_note_marker } from './Migration20261207193547_psa_note_marker.ts';
import { Migration20261207214631_subtree_health } from './Migration20261207214631_subtree_health.ts';
import { Migration20261207215001_cluster_leases } from './Migration20261207215001_cluster_leases.ts';
import { Migration20261208013000_integration_invoice_check } from './Migration20261208013000_integration_invoice_check.ts';

export const sqliteMigrations: MigrationObject[] = [
  { name: 'Migration20261122031249_kernel', class: Migration20261122031249_kernel },
  { name: 'Migration20261122040541_catalog', class: Migration20261122040541_catalog },
  { name: 'Migration20261122052349_identity', class: Migration20261122052349_identity },
  { name: 'Migration20261122060439_catalog_scopes', class: Migration20261122060439_catalog_scopes },
  { name: 'Migration20261122070656_jobs', class: Migration20261122070656_jobs },
  { name: 'Migration20261122072821_storage_locations', class: Migration20261122072821_storage_locations },
  { name: 'Migration20261122085006_system_activity', class: Migration20261122085006_system_activity },
  { name: 'Migration20261122085444_export_results_downloads', class: Migration20261122085444_export_results_downloads },
  { name: 'Migration20261207021900_api_key_scope', class: Migration20261207021900_api_key_scope },
  { name: 'Migration20261207031006_catalog_fold_keys', class: Migration20261207031006_catalog_fold_keys },
  { name: 'Migration20261207031743_entity_unavailable', class: Migration20261207031743_entity_unavailable },
  { name: 'Migration20261207051337_catalog_editor', class: Migration20261207051337_catalog_editor },
  { name: 'Migration20261207052000_user_time_zone', class: Migration20261207052000_user_time_zone },
  { name: 'Migration20261207053000_plugin_recovery_steps', class: Migration20261207053000_plugin_recovery_steps },
  { name: 'Migration20261207054500_notifications', class: Migration20261207054500_notifications },
  { name: 'Migration20261207061246_account_health', class: Migration20261207061246_account_health },
  { name: 'Migration20261207062245_webhooks', class: Migration20261207062245_webhooks },
  { name: 'Migration20261207062246_smart_alerts', class: Migration20261207062246_smart_alerts },
  { name: 'Migration20261207063000_summary_reports', class: Migration20261207063000_summary_reports },
  { name: 'Migration20261207123122_portal_profile', class: Migration20261207123122_portal_profile },
  { name: 'Migration20261207123127_restore_drills', class: Migration20261207123127_restore_drills },
  { name: 'Migration20261207124358_daily_page_indexes', class: Migration20261207124358_daily_page_indexes },
  { name: 'Migration20261207130000_storage_verifications', class: Migration20261207130000_storage_verifications },
  { name: 'Migration20261207140000_integrations', class: Migration20261207140000_integrations },
  { name: 'Migration20261207140000_snapshot_damage', class: Migration20261207140000_snapshot_damage },
  { name: 'Migration20261207141500_drill_policies', class: Migration20261207141500_drill_policies },
  { name: 'Migration20261207153000_catalog_content_id', class: Migration20261207153000_catalog_content_id },
  { name: 'Migration20261207153000_single_sign_on', class: Migration20261207153000_single_sign_on },
  { name: 'Migration20261207160000_billing', class: Migration20261207160000_billing },
  { name: 'Migration20261207160000_psa_tickets', class: Migration20261207160000_psa_tickets },
  { name: 'Migration20261207160000_saml_assertion_uses', class: Migration20261207160000_saml_assertion_uses },
  { name: 'Migration20261207164500_partner_access_index', class: Migration20261207164500_partner_access_index },
  { name: 'Migration20261207183620_billing_payment_details', class: Migration20261207183620_billing_payment_details },
  { name: 'Migration20261207193547_psa_note_marker', class: Migration20261207193547_psa_note_marker },
  { name: 'Migration20261207214631_subtree_health', class: Migration20261207214631_subtree_health },
  { name: 'Migration20261207215001_cluster_leases', class: Migration20261207215001_cluster_leases },
  {
    name: 'Migration20261208013000_integration_invoice_check',
    class: Migration20261208013000_integration_invoice_check,
  },
];
