import { Migration } from '@mikro-orm/migrations';

// The PostgreSQL schema, equal to what the SQLite migrations up to Migration20261207141500_drill_policies
// build (tests/integration/migrations.test.ts compares each set with the entities). Besides the
// tables: the fold function of "contains" searches (core/db/fold.ts), the catalog's full-text
// index (core/db/postgres-catalog.ts) and account_health's triggers (as the SQLite ones of
// Migration20261207061246_account_health, in PL/pgSQL; the upsert names the existing row `h`,
// which PostgreSQL needs and SQLite does not).
export class Migration20261207160000_postgresql_schema extends Migration {
  override name = 'Migration20261207160000_postgresql_schema';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "catalog_repositories" ("id" varchar(36) not null, "location" varchar(1000) not null, "attached_at" timestamptz not null, "indexed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create table "catalog_scopes" ("id" serial primary key, "repository_id" varchar(36) not null, "task" varchar(200) not null, "entity" varchar(1000) not null);`,
    );
    this.addSql(
      `alter table "catalog_scopes" add constraint "catalog_scopes_repository_id_task_entity_unique" unique ("repository_id", "task", "entity");`,
    );
    this.addSql(
      `create table "catalog_items" ("id" serial primary key, "scope_id" int not null, "key" varchar(4000) not null, "kind" varchar(50) not null, "name" varchar(1000) not null, "path" varchar(4000) not null, "author" varchar(320) null, "name_key" varchar(1000) not null default '', "path_key" varchar(4000) not null default '', "author_key" varchar(320) null);`,
    );
    this.addSql(
      `alter table "catalog_items" add constraint "catalog_items_scope_id_key_unique" unique ("scope_id", "key");`,
    );
    this.addSql(
      `create table "catalog_snapshots" ("id" varchar(64) not null, "repository_id" varchar(36) not null, "task" varchar(200) not null, "entity" varchar(1000) not null, "time" timestamptz not null, "parent" varchar(64) null, "items" int not null, "bytes" double precision not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "catalog_snapshots_repository_id_task_entity_time_index" on "catalog_snapshots" ("repository_id", "task", "entity", "time");`,
    );
    this.addSql(
      `create table "catalog_snapshot_damage" ("id" serial primary key, "snapshot_id" varchar(64) not null, "items" jsonb not null, "ranges" jsonb not null, "found_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "catalog_snapshot_damage" add constraint "catalog_snapshot_damage_snapshot_id_unique" unique ("snapshot_id");`,
    );
    this.addSql(
      `create table "catalog_versions" ("id" serial primary key, "item_id" int not null, "snapshot_id" varchar(64) not null, "size" double precision not null, "modified" timestamptz null, "author" varchar(320) null, "author_key" varchar(320) null, "editor" varchar(320) null, "editor_key" varchar(320) null, "deleted" boolean not null);`,
    );
    this.addSql(`create index "catalog_versions_item_id_index" on "catalog_versions" ("item_id");`);
    this.addSql(`create index "catalog_versions_snapshot_id_index" on "catalog_versions" ("snapshot_id");`);
    this.addSql(
      `create table "login_throttles" ("key" varchar(400) not null, "failures" int not null, "window_started_at" timestamptz not null, "locked_until" timestamptz null, primary key ("key"));`,
    );
    this.addSql(
      `create table "organizations" ("id" varchar(36) not null, "name" varchar(200) not null, "kind" text not null, "parent_id" varchar(36) null, "path" varchar(2000) not null, "code" varchar(16) null, "contact_name" varchar(200) null, "contact_email" varchar(320) null, "phone" varchar(50) null, "address" varchar(500) null, "country" varchar(2) null, "partner_access_removed_at" timestamptz null, "status" text not null default 'active', "removal_requested_at" timestamptz null, "purge_after" timestamptz null, "enforce_two_factor" boolean not null default false, "password_expiry_days" int null, "ip_restrictions_enabled" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "organizations_parent_id_index" on "organizations" ("parent_id");`);
    this.addSql(`create index "organizations_path_index" on "organizations" ("path");`);
    this.addSql(`alter table "organizations" add constraint "organizations_code_unique" unique ("code");`);
    this.addSql(`create index "organizations_purge_after_index" on "organizations" ("purge_after");`);
    this.addSql(`create index "organizations_path_kind_id_index" on "organizations" ("path", "kind", "id");`);
    this.addSql(
      `alter table "organizations" add constraint "organizations_kind_check" check ("kind" in ('root', 'distributor', 'partner', 'customer'));`,
    );
    this.addSql(
      `alter table "organizations" add constraint "organizations_status_check" check ("status" in ('active', 'removal_pending'));`,
    );
    this.addSql(
      `create table "notification_recipients" ("id" serial primary key, "organization_id" varchar(36) not null, "email" varchar(320) not null, "email_key" varchar(320) not null, "display_name" varchar(200) not null, "types" jsonb not null, "created_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "notification_recipients" add constraint "notification_recipients_organization_id_email_key_unique" unique ("organization_id", "email_key");`,
    );
    this.addSql(
      `create table "notification_incidents" ("id" serial primary key, "organization_id" varchar(36) not null, "subject" varchar(100) not null, "sequence" int not null default 0, "opened_at" timestamptz null, "failing" jsonb not null);`,
    );
    this.addSql(
      `alter table "notification_incidents" add constraint "notification_incidents_subject_unique" unique ("subject");`,
    );
    this.addSql(
      `create table "notifications" ("id" serial primary key, "organization_id" varchar(36) not null, "type" text not null, "event_key" varchar(300) not null, "payload" jsonb not null, "created_at" timestamptz not null, "fanned_out_at" timestamptz null);`,
    );
    this.addSql(`alter table "notifications" add constraint "notifications_event_key_unique" unique ("event_key");`);
    this.addSql(`create index "notifications_fanned_out_at_index" on "notifications" ("fanned_out_at");`);
    this.addSql(
      `alter table "notifications" add constraint "notifications_type_check" check ("type" in ('summary', 'recovery', 'exceptions', 'discovery', 'smart_alerts'));`,
    );
    this.addSql(
      `create table "mail_messages" ("id" serial primary key, "created_at" timestamptz not null, "to" varchar(320) not null, "subject" varchar(300) not null, "text" text not null, "status" text not null, "sent_at" timestamptz null, "error" varchar(1000) null, "html" text null, "organization_id" varchar(36) null, "notification_id" int null, "attempts" int not null default 0, "next_attempt_at" timestamptz null);`,
    );
    this.addSql(`create index "mail_messages_created_at_index" on "mail_messages" ("created_at");`);
    this.addSql(`create index "mail_messages_next_attempt_at_index" on "mail_messages" ("next_attempt_at");`);
    this.addSql(
      `alter table "mail_messages" add constraint "mail_messages_notification_id_to_unique" unique ("notification_id", "to");`,
    );
    this.addSql(
      `alter table "mail_messages" add constraint "mail_messages_status_check" check ("status" in ('outbox', 'sent', 'failed'));`,
    );
    this.addSql(
      `create table "mail_files" ("id" serial primary key, "mail_id" int not null, "file_name" varchar(200) not null, "content_type" varchar(100) not null, "content" bytea not null);`,
    );
    this.addSql(`create index "mail_files_mail_id_index" on "mail_files" ("mail_id");`);
    this.addSql(
      `create table "ip_rules" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "description" varchar(200) null, "entries" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "ip_rules_organization_id_index" on "ip_rules" ("organization_id");`);
    this.addSql(
      `create table "integrations" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "kind" varchar(40) not null, "enabled" boolean not null default true, "settings" jsonb not null, "secret_sealed" text null, "streams" jsonb not null, "cursor" jsonb not null, "pending_ack" jsonb null, "version" int not null default 0, "lease_until" timestamptz null, "attempts" int not null default 0, "next_attempt_at" timestamptz null, "failing_since" timestamptz null, "last_error" varchar(1000) null, "last_delivered_at" timestamptz null, "delivered_count" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create table "drill_policies" ("id" serial primary key, "organization_id" varchar(36) not null, "interval_days" int not null, "updated_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "drill_policies" add constraint "drill_policies_organization_id_unique" unique ("organization_id");`,
    );
    this.addSql(
      `create table "backup_tasks" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "service" varchar(100) not null, "name" varchar(200) not null, "connection" text not null, "connection_state" text not null default 'connected', "connection_problem" varchar(1000) null, "frequency" text not null default 'daily', "backup_hour" int not null default 3, "api_usage_limit_percent" int null, "index_for_search" boolean not null default true, "auto_activate" boolean not null default true, "archived_retention_days" int null, "retention" jsonb not null default '{"kind":"all"}', "storage_location" varchar(200) null, "status" text not null default 'active', "deleted_at" timestamptz null, "purge_after" timestamptz null, "last_scheduled_for" timestamptz null, "discovered_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "backup_tasks_organization_id_index" on "backup_tasks" ("organization_id");`);
    this.addSql(`create index "backup_tasks_purge_after_index" on "backup_tasks" ("purge_after");`);
    this.addSql(
      `alter table "backup_tasks" add constraint "backup_tasks_connection_state_check" check ("connection_state" in ('connected', 'disconnected'));`,
    );
    this.addSql(
      `alter table "backup_tasks" add constraint "backup_tasks_frequency_check" check ("frequency" in ('daily', 'every_3_days', 'weekly', 'three_times_daily'));`,
    );
    this.addSql(
      `alter table "backup_tasks" add constraint "backup_tasks_status_check" check ("status" in ('active', 'paused'));`,
    );
    this.addSql(
      `create table "audit_events" ("id" serial primary key, "at" timestamptz not null, "organization_id" varchar(36) null, "activity" varchar(100) not null, "service" varchar(100) null, "status" text not null, "account" varchar(320) null, "performed_by" varchar(320) null, "performer_id" varchar(64) null, "ip" varchar(64) null, "user_agent" varchar(400) null, "description" varchar(2000) not null);`,
    );
    this.addSql(`create index "audit_events_organization_id_at_index" on "audit_events" ("organization_id", "at");`);
    this.addSql(`create index "audit_events_at_index" on "audit_events" ("at");`);
    this.addSql(`create index "audit_events_activity_at_index" on "audit_events" ("activity", "at");`);
    this.addSql(`create index "audit_events_status_at_index" on "audit_events" ("status", "at");`);
    this.addSql(
      `alter table "audit_events" add constraint "audit_events_status_check" check ("status" in ('completed', 'failed'));`,
    );
    this.addSql(
      `create table "activity_events" ("id" serial primary key, "at" timestamptz not null, "organization_id" varchar(36) not null, "activity" varchar(100) not null, "service" varchar(100) null, "service_label" varchar(100) null, "sub_service" varchar(100) null, "status" text not null, "task_id" varchar(36) null, "task_name" varchar(200) null, "item" varchar(500) null, "job_id" varchar(36) null, "started_at" timestamptz null, "duration_ms" int null, "bytes" double precision null, "items" int null, "summary" varchar(2000) not null);`,
    );
    this.addSql(`alter table "activity_events" add constraint "activity_events_job_id_unique" unique ("job_id");`);
    this.addSql(
      `create index "activity_events_organization_id_at_index" on "activity_events" ("organization_id", "at");`,
    );
    this.addSql(`create index "activity_events_at_index" on "activity_events" ("at");`);
    this.addSql(`create index "activity_events_activity_at_index" on "activity_events" ("activity", "at");`);
    this.addSql(`create index "activity_events_service_at_index" on "activity_events" ("service", "at");`);
    this.addSql(`create index "activity_events_status_at_index" on "activity_events" ("status", "at");`);
    this.addSql(
      `alter table "activity_events" add constraint "activity_events_status_check" check ("status" in ('succeeded', 'partially_succeeded', 'failed', 'canceled', 'warning'));`,
    );
    this.addSql(
      `create table "account_health" ("organization_id" varchar(36) not null, "tasks" int not null default 0, "failed" int not null default 0, "partial" int not null default 0, "success" int not null default 0, "protected" int not null default 0, "bytes" double precision not null default 0, "stored_bytes" double precision not null default 0, "last_run_at" timestamptz null, primary key ("organization_id"));`,
    );
    this.addSql(
      `create table "plugin_recovery_steps" ("id" varchar(36) not null, "task_id" varchar(36) not null, "job_id" varchar(36) null, "plugin_kind" varchar(100) not null, "payload" jsonb not null, "created_at" timestamptz not null, "attempts" int not null default 0, "last_attempt_at" timestamptz null, "last_error" varchar(1000) null, primary key ("id"));`,
    );
    this.addSql(`create index "plugin_recovery_steps_job_id_index" on "plugin_recovery_steps" ("job_id");`);
    this.addSql(
      `create table "restore_drills" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "task_id" varchar(36) not null, "job_id" varchar(36) null, "started_at" timestamptz not null, "finished_at" timestamptz not null, "passed" boolean not null, "snapshots" int not null, "items" int not null, "bytes" double precision not null, "storage_bytes_read" double precision not null, "duration_ms" int not null, "failures" jsonb not null default '[]', primary key ("id"));`,
    );
    this.addSql(`create index "restore_drills_organization_id_index" on "restore_drills" ("organization_id");`);
    this.addSql(
      `create index "restore_drills_task_id_finished_at_index" on "restore_drills" ("task_id", "finished_at");`,
    );
    this.addSql(
      `create table "smart_alert_rules" ("id" serial primary key, "task_id" varchar(36) not null, "entity_external_id" varchar(500) null, "change" text not null, "unit" text not null, "threshold" int not null, "users" text not null, "enabled" boolean not null default true, "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "smart_alert_rules_task_id_index" on "smart_alert_rules" ("task_id");`);
    this.addSql(
      `alter table "smart_alert_rules" add constraint "smart_alert_rules_change_check" check ("change" in ('added', 'updated', 'deleted'));`,
    );
    this.addSql(
      `alter table "smart_alert_rules" add constraint "smart_alert_rules_unit_check" check ("unit" in ('count', 'percent'));`,
    );
    this.addSql(
      `alter table "smart_alert_rules" add constraint "smart_alert_rules_users_check" check ("users" in ('one', 'all'));`,
    );
    this.addSql(
      `create table "storage_locations" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "name" varchar(200) not null, "kind" varchar(50) not null, "settings" jsonb not null, "sealed_secrets" text null, "builtin" boolean not null default false, "description" varchar(1000) null, "last_tested_at" timestamptz null, "last_test_ok" boolean null, "last_test_sentence" varchar(1000) null, "last_test_detail" varchar(2000) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "storage_locations_organization_id_index" on "storage_locations" ("organization_id");`);
    this.addSql(
      `alter table "storage_locations" add constraint "storage_locations_organization_id_name_unique" unique ("organization_id", "name");`,
    );
    this.addSql(
      `create table "organization_storage" ("id" serial primary key, "organization_id" varchar(36) not null, "location_id" varchar(36) null, "default_for_new_accounts_id" varchar(36) null, "updated_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "organization_storage" add constraint "organization_storage_organization_id_unique" unique ("organization_id");`,
    );
    this.addSql(`create index "organization_storage_location_id_index" on "organization_storage" ("location_id");`);
    this.addSql(
      `create index "organization_storage_default_for_new_accounts_id_index" on "organization_storage" ("default_for_new_accounts_id");`,
    );
    this.addSql(
      `create table "storage_repositories" ("id" serial primary key, "repository_id" varchar(36) not null, "location_id" varchar(36) not null, "organization_id" varchar(36) not null, "attached_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "storage_repositories" add constraint "storage_repositories_repository_id_unique" unique ("repository_id");`,
    );
    this.addSql(`create index "storage_repositories_location_id_index" on "storage_repositories" ("location_id");`);
    this.addSql(
      `create index "storage_repositories_organization_id_index" on "storage_repositories" ("organization_id");`,
    );
    this.addSql(
      `create table "storage_verifications" ("id" serial primary key, "location_id" varchar(36) not null, "sample_percent" int not null default 10, "interval_hours" int not null default 24, "runs" int not null default 0, "last_run_at" timestamptz null, "last_ok" boolean null, "last_result" jsonb null, "notified_key" varchar(300) null, "updated_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "storage_verifications" add constraint "storage_verifications_location_id_unique" unique ("location_id");`,
    );
    this.addSql(
      `create table "summary_reports" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "period" varchar(20) not null, "file_name" varchar(200) not null, "csv" text not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "summary_reports_expires_at_index" on "summary_reports" ("expires_at");`);
    this.addSql(
      `create table "summary_report_settings" ("id" serial primary key, "organization_id" varchar(36) not null, "enabled" boolean not null default true, "format" text not null default 'overview', "delivery" text not null default 'attachment', "frequency" text not null default 'daily', "hour" int not null default 7, "time_zone" varchar(64) not null default 'UTC', "only_when_failed" boolean not null default false, "split" text not null default 'consolidated', "last_period" varchar(20) null, "updated_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "summary_report_settings" add constraint "summary_report_settings_organization_id_unique" unique ("organization_id");`,
    );
    this.addSql(
      `alter table "summary_report_settings" add constraint "summary_report_settings_format_check" check ("format" in ('overview', 'failures'));`,
    );
    this.addSql(
      `alter table "summary_report_settings" add constraint "summary_report_settings_delivery_check" check ("delivery" in ('attachment', 'link'));`,
    );
    this.addSql(
      `alter table "summary_report_settings" add constraint "summary_report_settings_frequency_check" check ("frequency" in ('daily', 'weekly', 'monthly'));`,
    );
    this.addSql(
      `alter table "summary_report_settings" add constraint "summary_report_settings_split_check" check ("split" in ('consolidated', 'per_customer'));`,
    );
    this.addSql(
      `create table "system_facts" ("key" varchar(100) not null, "value" varchar(2000) not null, "created_at" timestamptz not null, primary key ("key"));`,
    );
    this.addSql(
      `create table "task_entities" ("id" varchar(36) not null, "task_id" varchar(36) not null, "external_id" varchar(500) not null, "name" varchar(500) not null, "kind" varchar(100) not null, "status" text not null default 'not_active', "last_run_at" timestamptz null, "last_added" int not null default 0, "last_updated" int not null default 0, "last_deleted" int not null default 0, "last_items" int not null default 0, "last_bytes" double precision not null default 0, "stored_bytes" double precision not null default 0, "last_snapshot_id" varchar(64) null, "unavailable_reason" varchar(1000) null, "status_before_unavailable" text null, "last_error" varchar(1000) null, "archived_at" timestamptz null, "deleted_at" timestamptz null, "purge_after" timestamptz null, "plugin_state" jsonb null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "task_entities_task_id_status_index" on "task_entities" ("task_id", "status");`);
    this.addSql(
      `alter table "task_entities" add constraint "task_entities_task_id_external_id_unique" unique ("task_id", "external_id");`,
    );
    this.addSql(
      `alter table "task_entities" add constraint "task_entities_status_check" check ("status" in ('not_active', 'scheduled', 'in_process', 'success', 'partial', 'failed', 'paused', 'archived', 'unavailable'));`,
    );
    this.addSql(
      `alter table "task_entities" add constraint "task_entities_status_before_unavailable_check" check ("status_before_unavailable" in ('not_active', 'scheduled', 'in_process', 'success', 'partial', 'failed', 'paused', 'archived', 'unavailable'));`,
    );
    this.addSql(
      `create table "jobs" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "kind" text not null, "state" text not null default 'pending', "label" varchar(50) not null, "task_id" varchar(36) null, "entity_id" varchar(36) null, "initiator_kind" text not null, "initiator_id" varchar(64) null, "initiator_label" varchar(320) null, "params" jsonb not null default '{}', "dedupe_key" varchar(300) null, "scheduled_for" timestamptz null, "run_after" timestamptz not null, "attempts" int not null default 0, "max_attempts" int not null default 3, "lease_owner" varchar(100) null, "lease_expires_at" timestamptz null, "heartbeat_at" timestamptz null, "cancel_requested_at" timestamptz null, "progress_items" int not null default 0, "progress_bytes" double precision not null default 0, "progress_step" varchar(200) null, "result" jsonb null, "error" varchar(2000) null, "log" jsonb not null default '[]', "created_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "jobs" add constraint "jobs_dedupe_key_unique" unique ("dedupe_key");`);
    this.addSql(`create index "jobs_state_run_after_index" on "jobs" ("state", "run_after");`);
    this.addSql(`create index "jobs_organization_id_created_at_index" on "jobs" ("organization_id", "created_at");`);
    this.addSql(`create index "jobs_task_id_state_index" on "jobs" ("task_id", "state");`);
    this.addSql(`create index "jobs_state_lease_expires_at_index" on "jobs" ("state", "lease_expires_at");`);
    this.addSql(
      `alter table "jobs" add constraint "jobs_kind_check" check ("kind" in ('backup', 'restore', 'export', 'compare', 'replicate', 'maintenance'));`,
    );
    this.addSql(
      `alter table "jobs" add constraint "jobs_state_check" check ("state" in ('pending', 'in_progress', 'succeeded', 'partially_succeeded', 'failed', 'canceled'));`,
    );
    this.addSql(
      `alter table "jobs" add constraint "jobs_initiator_kind_check" check ("initiator_kind" in ('user', 'schedule', 'api_key', 'system'));`,
    );
    this.addSql(
      `create table "export_results" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "job_id" varchar(36) not null, "file_name" varchar(255) not null, "file_path" varchar(2000) not null, "size" double precision not null, "format" text not null, "encryption" text not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "deleted_at" timestamptz null, "downloads" int not null default 0, "last_downloaded_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "export_results" add constraint "export_results_job_id_unique" unique ("job_id");`);
    this.addSql(`create index "export_results_expires_at_index" on "export_results" ("expires_at");`);
    this.addSql(
      `alter table "export_results" add constraint "export_results_format_check" check ("format" in ('zip', 'tar'));`,
    );
    this.addSql(
      `alter table "export_results" add constraint "export_results_encryption_check" check ("encryption" in ('none', 'public_key', 'passphrase'));`,
    );
    this.addSql(
      `create table "usage_samples" ("organization_id" varchar(36) not null, "day" varchar(10) not null, "protected" int not null default 0, "logical_bytes" double precision not null default 0, "stored_bytes" double precision not null default 0, primary key ("organization_id", "day"));`,
    );
    this.addSql(
      `create table "users" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "email" varchar(320) not null, "display_name" varchar(200) null, "password_hash" varchar(255) null, "password_changed_at" timestamptz null, "role" text not null, "permissions" jsonb not null default '[]', "accessible_accounts" text not null default 'all', "accessible_organization_ids" jsonb not null default '[]', "status" text not null default 'active', "email_confirmed_at" timestamptz null, "pending_email" varchar(320) null, "totp_secret" varchar(500) null, "totp_enabled_at" timestamptz null, "totp_last_step" int null, "time_zone" varchar(64) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "last_login_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "users_organization_id_index" on "users" ("organization_id");`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);
    this.addSql(`alter table "users" add constraint "users_role_check" check ("role" in ('administrator', 'custom'));`);
    this.addSql(
      `alter table "users" add constraint "users_accessible_accounts_check" check ("accessible_accounts" in ('all', 'selected'));`,
    );
    this.addSql(
      `alter table "users" add constraint "users_status_check" check ("status" in ('pending', 'active', 'deactivated'));`,
    );
    this.addSql(
      `create table "sessions" ("id" varchar(64) not null, "user_id" varchar(36) not null, "stage" text not null default 'active', "acting_organization_id" varchar(36) null, "created_at" timestamptz not null, "last_seen_at" timestamptz not null, "expires_at" timestamptz not null, "ip" varchar(64) null, "user_agent" varchar(400) null, primary key ("id"));`,
    );
    this.addSql(`create index "sessions_user_id_index" on "sessions" ("user_id");`);
    this.addSql(`create index "sessions_expires_at_index" on "sessions" ("expires_at");`);
    this.addSql(
      `alter table "sessions" add constraint "sessions_stage_check" check ("stage" in ('active', 'second_factor', 'enrol_second_factor', 'new_password'));`,
    );
    this.addSql(
      `create table "recovery_codes" ("id" serial primary key, "user_id" varchar(36) not null, "code_hash" varchar(64) not null, "used_at" timestamptz null);`,
    );
    this.addSql(`create index "recovery_codes_user_id_index" on "recovery_codes" ("user_id");`);
    this.addSql(
      `create table "one_time_tokens" ("id" varchar(64) not null, "user_id" varchar(36) not null, "purpose" text not null, "email" varchar(320) null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "used_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "one_time_tokens_user_id_index" on "one_time_tokens" ("user_id");`);
    this.addSql(
      `alter table "one_time_tokens" add constraint "one_time_tokens_purpose_check" check ("purpose" in ('confirm_email', 'reset_password'));`,
    );
    this.addSql(
      `create table "api_keys" ("id" varchar(64) not null, "organization_id" varchar(36) not null, "secret_hash" varchar(64) not null, "created_by_id" varchar(36) null, "created_by_email" varchar(320) not null, "role" text not null default 'custom', "permissions" jsonb not null default '[]', "accessible_accounts" text not null default 'all', "accessible_organization_ids" jsonb not null default '[]', "created_at" timestamptz not null, "last_used_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "api_keys_organization_id_index" on "api_keys" ("organization_id");`);
    this.addSql(
      `alter table "api_keys" add constraint "api_keys_role_check" check ("role" in ('administrator', 'custom'));`,
    );
    this.addSql(
      `alter table "api_keys" add constraint "api_keys_accessible_accounts_check" check ("accessible_accounts" in ('all', 'selected'));`,
    );
    this.addSql(
      `create table "api_tokens" ("id" varchar(64) not null, "api_key_id" varchar(64) not null, "kind" text not null, "family" varchar(36) not null default '', "used_at" timestamptz null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "api_tokens_api_key_id_index" on "api_tokens" ("api_key_id");`);
    this.addSql(`create index "api_tokens_family_index" on "api_tokens" ("family");`);
    this.addSql(`create index "api_tokens_expires_at_index" on "api_tokens" ("expires_at");`);
    this.addSql(
      `alter table "api_tokens" add constraint "api_tokens_kind_check" check ("kind" in ('access', 'refresh'));`,
    );
    this.addSql(
      `create table "webhook_endpoints" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "url" varchar(2000) not null, "description" varchar(200) not null, "events" jsonb not null, "secret_sealed" text not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create table "webhook_deliveries" ("id" serial primary key, "endpoint_id" varchar(36) not null, "event_key" varchar(300) not null, "type" varchar(40) not null, "body" text not null, "created_at" timestamptz not null, "status" text not null, "attempts" int not null default 0, "next_attempt_at" timestamptz null, "delivered_at" timestamptz null, "last_status" int null, "last_response" varchar(500) null, "last_attempt_at" timestamptz null);`,
    );
    this.addSql(`create index "webhook_deliveries_next_attempt_at_index" on "webhook_deliveries" ("next_attempt_at");`);
    this.addSql(
      `alter table "webhook_deliveries" add constraint "webhook_deliveries_endpoint_id_event_key_unique" unique ("endpoint_id", "event_key");`,
    );
    this.addSql(
      `alter table "webhook_deliveries" add constraint "webhook_deliveries_status_check" check ("status" in ('pending', 'delivered', 'failed'));`,
    );
    this.addSql(
      `create table "webhook_events" ("id" serial primary key, "organization_id" varchar(36) not null, "type" varchar(40) not null, "event_key" varchar(300) not null, "payload" jsonb not null, "created_at" timestamptz not null, "fanned_out_at" timestamptz null);`,
    );
    this.addSql(`alter table "webhook_events" add constraint "webhook_events_event_key_unique" unique ("event_key");`);
    this.addSql(`create index "webhook_events_fanned_out_at_index" on "webhook_events" ("fanned_out_at");`);
    this.addSql(
      `alter table "catalog_scopes" add constraint "catalog_scopes_repository_id_foreign" foreign key ("repository_id") references "catalog_repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "catalog_items" add constraint "catalog_items_scope_id_foreign" foreign key ("scope_id") references "catalog_scopes" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "catalog_snapshots" add constraint "catalog_snapshots_repository_id_foreign" foreign key ("repository_id") references "catalog_repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "catalog_snapshot_damage" add constraint "catalog_snapshot_damage_snapshot_id_foreign" foreign key ("snapshot_id") references "catalog_snapshots" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "catalog_versions" add constraint "catalog_versions_item_id_foreign" foreign key ("item_id") references "catalog_items" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "catalog_versions" add constraint "catalog_versions_snapshot_id_foreign" foreign key ("snapshot_id") references "catalog_snapshots" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "organizations" add constraint "organizations_parent_id_foreign" foreign key ("parent_id") references "organizations" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "notification_recipients" add constraint "notification_recipients_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "notification_incidents" add constraint "notification_incidents_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "notifications" add constraint "notifications_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "mail_messages" add constraint "mail_messages_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "mail_messages" add constraint "mail_messages_notification_id_foreign" foreign key ("notification_id") references "notifications" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "mail_files" add constraint "mail_files_mail_id_foreign" foreign key ("mail_id") references "mail_messages" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "ip_rules" add constraint "ip_rules_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "integrations" add constraint "integrations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "drill_policies" add constraint "drill_policies_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "backup_tasks" add constraint "backup_tasks_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "audit_events" add constraint "audit_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "activity_events" add constraint "activity_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "account_health" add constraint "account_health_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "plugin_recovery_steps" add constraint "plugin_recovery_steps_task_id_foreign" foreign key ("task_id") references "backup_tasks" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "restore_drills" add constraint "restore_drills_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "restore_drills" add constraint "restore_drills_task_id_foreign" foreign key ("task_id") references "backup_tasks" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "smart_alert_rules" add constraint "smart_alert_rules_task_id_foreign" foreign key ("task_id") references "backup_tasks" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "storage_locations" add constraint "storage_locations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "organization_storage" add constraint "organization_storage_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "organization_storage" add constraint "organization_storage_location_id_foreign" foreign key ("location_id") references "storage_locations" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "organization_storage" add constraint "organization_storage_default_for_new_accounts_id_foreign" foreign key ("default_for_new_accounts_id") references "storage_locations" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "storage_repositories" add constraint "storage_repositories_repository_id_foreign" foreign key ("repository_id") references "catalog_repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "storage_repositories" add constraint "storage_repositories_location_id_foreign" foreign key ("location_id") references "storage_locations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "storage_repositories" add constraint "storage_repositories_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "storage_verifications" add constraint "storage_verifications_location_id_foreign" foreign key ("location_id") references "storage_locations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "summary_reports" add constraint "summary_reports_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "summary_report_settings" add constraint "summary_report_settings_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "task_entities" add constraint "task_entities_task_id_foreign" foreign key ("task_id") references "backup_tasks" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "jobs" add constraint "jobs_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "jobs" add constraint "jobs_task_id_foreign" foreign key ("task_id") references "backup_tasks" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "jobs" add constraint "jobs_entity_id_foreign" foreign key ("entity_id") references "task_entities" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "export_results" add constraint "export_results_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "export_results" add constraint "export_results_job_id_foreign" foreign key ("job_id") references "jobs" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "usage_samples" add constraint "usage_samples_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "users" add constraint "users_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id");`,
    );
    this.addSql(
      `alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "sessions" add constraint "sessions_acting_organization_id_foreign" foreign key ("acting_organization_id") references "organizations" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "recovery_codes" add constraint "recovery_codes_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "one_time_tokens" add constraint "one_time_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "api_keys" add constraint "api_keys_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "api_keys" add constraint "api_keys_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "api_tokens" add constraint "api_tokens_api_key_id_foreign" foreign key ("api_key_id") references "api_keys" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "webhook_endpoints" add constraint "webhook_endpoints_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "webhook_deliveries" add constraint "webhook_deliveries_endpoint_id_foreign" foreign key ("endpoint_id") references "webhook_endpoints" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "webhook_events" add constraint "webhook_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    // Unicode case mapping for lower() whatever the database's locale: full mapping where the
    // server has it (PostgreSQL 18), the simple one otherwise (PostgreSQL 17).
    this.addSql(`do $$ begin
  execute format($f$create function holdfast_fold(value text) returns text language sql immutable strict parallel safe as
    'select normalize(replace(replace(replace(lower(normalize(value, NFKC) collate %I), ''ß'', ''ss''), ''ς'', ''σ''), ''ſ'', ''s''), NFKC)'$f$,
    case when exists (select 1 from pg_collation where collname = 'pg_unicode_fast') then 'pg_unicode_fast' else 'pg_c_utf8' end);
  execute format($f$create function holdfast_search_words(value text) returns text language sql immutable parallel safe set search_path from current as
    'select regexp_replace(regexp_replace(normalize(lower(normalize(coalesce(value, ''''), NFKC) collate %I), NFD), ''[\\u0300-\\u036f]'', '''', ''g''), ''[^[:alnum:]]+'', '' '', ''g'')'$f$,
    case when exists (select 1 from pg_collation where collname = 'pg_unicode_fast') then 'pg_unicode_fast' else 'pg_c_utf8' end);
end $$;`);
    // SQLite's instr() and json_extract() (a '$.key' path), so the catalog's folder queries and
    // the live compare's estimate read the same on both databases.
    this.addSql(
      `create function json_extract(value jsonb, path text) returns jsonb language sql immutable parallel safe as 'select jsonb_path_query_first(value, path::jsonpath)';`,
    );
    this.addSql(
      `create function instr(value text, part text) returns int language sql immutable parallel safe as 'select strpos(value, part)';`,
    );
    this.addSql(`create function holdfast_search_document(name text, path text, author text) returns tsvector language sql immutable parallel safe
  set search_path from current as
  $$ select to_tsvector('simple'::regconfig, holdfast_search_words(name) || ' ' || holdfast_search_words(path) || ' ' || holdfast_search_words(author)) $$;`);
    // (An index expression runs with PostgreSQL's own search_path, hence the functions' `set search_path`.)
    this.addSql(
      `create index catalog_items_search_index on catalog_items using gin (holdfast_search_document(name, path, author));`,
    );
    this.addSql(`create function account_health_entity_insert() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select t.organization_id, 0, case when NEW.deleted_at is null and NEW.status = 'failed' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'partial' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'success' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end, case when NEW.deleted_at is null then NEW.last_bytes else 0 end, case when NEW.deleted_at is null then NEW.stored_bytes else 0 end, NEW.last_run_at
  from backup_tasks t where t.id = NEW.task_id and t.deleted_at is null
    and exists (select 1 from organizations o where o.id = t.organization_id)
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return null;
end $$;`);
    this.addSql(
      `create trigger account_health_entity_insert after insert on task_entities for each row when (NEW.deleted_at is null) execute function account_health_entity_insert();`,
    );
    this.addSql(`create function account_health_entity_update() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select t.organization_id, 0, case when NEW.deleted_at is null and NEW.status = 'failed' then 1 else 0 end - case when OLD.deleted_at is null and OLD.status = 'failed' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'partial' then 1 else 0 end - case when OLD.deleted_at is null and OLD.status = 'partial' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'success' then 1 else 0 end - case when OLD.deleted_at is null and OLD.status = 'success' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end - case when OLD.deleted_at is null and OLD.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end, case when NEW.deleted_at is null then NEW.last_bytes else 0 end - case when OLD.deleted_at is null then OLD.last_bytes else 0 end, case when NEW.deleted_at is null then NEW.stored_bytes else 0 end - case when OLD.deleted_at is null then OLD.stored_bytes else 0 end,
    case when NEW.deleted_at is null then NEW.last_run_at end
  from backup_tasks t where t.id = NEW.task_id and t.deleted_at is null
    and exists (select 1 from organizations o where o.id = t.organization_id)
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return null;
end $$;`);
    this.addSql(
      `create trigger account_health_entity_update after update of status, last_bytes, stored_bytes, last_run_at, deleted_at on task_entities for each row execute function account_health_entity_update();`,
    );
    this.addSql(`create function account_health_entity_delete() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select t.organization_id, 0, -case when OLD.deleted_at is null and OLD.status = 'failed' then 1 else 0 end, -case when OLD.deleted_at is null and OLD.status = 'partial' then 1 else 0 end, -case when OLD.deleted_at is null and OLD.status = 'success' then 1 else 0 end, -case when OLD.deleted_at is null and OLD.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end, -case when OLD.deleted_at is null then OLD.last_bytes else 0 end, -case when OLD.deleted_at is null then OLD.stored_bytes else 0 end, null
  from backup_tasks t where t.id = OLD.task_id and t.deleted_at is null
    and exists (select 1 from organizations o where o.id = t.organization_id)
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return null;
end $$;`);
    this.addSql(
      `create trigger account_health_entity_delete after delete on task_entities for each row when (OLD.deleted_at is null) execute function account_health_entity_delete();`,
    );
    this.addSql(`create function account_health_task_insert() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select NEW.organization_id, 1, 0, 0, 0, 0, 0, 0, null where true
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return null;
end $$;`);
    this.addSql(
      `create trigger account_health_task_insert after insert on backup_tasks for each row when (NEW.deleted_at is null) execute function account_health_task_insert();`,
    );
    this.addSql(`create function account_health_task_restore() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select NEW.organization_id, 1, coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0), coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
    coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0), coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0), coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
    max(case when e.deleted_at is null then e.last_run_at end)
  from task_entities e where e.task_id = NEW.id
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return null;
end $$;`);
    this.addSql(
      `create trigger account_health_task_restore after update of deleted_at on backup_tasks for each row when (OLD.deleted_at is not null and NEW.deleted_at is null) execute function account_health_task_restore();`,
    );
    this.addSql(`create function account_health_task_delete() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select OLD.organization_id, -1, -coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
    -coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
    null
  from task_entities e where e.task_id = OLD.id
    having exists (select 1 from organizations o where o.id = OLD.organization_id)
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return null;
end $$;`);
    this.addSql(
      `create trigger account_health_task_delete after update of deleted_at on backup_tasks for each row when (OLD.deleted_at is null and NEW.deleted_at is not null) execute function account_health_task_delete();`,
    );
    this.addSql(`create function account_health_task_remove() returns trigger language plpgsql as $$ begin
  insert into account_health as h (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select OLD.organization_id, -1, -coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
    -coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
    null
  from task_entities e where e.task_id = OLD.id
    having exists (select 1 from organizations o where o.id = OLD.organization_id)
  on conflict(organization_id) do update set tasks = h.tasks + excluded.tasks, failed = h.failed + excluded.failed,
    partial = h.partial + excluded.partial, success = h.success + excluded.success, protected = h.protected + excluded.protected,
    bytes = h.bytes + excluded.bytes, stored_bytes = h.stored_bytes + excluded.stored_bytes,
    last_run_at = case when h.last_run_at is null or excluded.last_run_at > h.last_run_at then coalesce(excluded.last_run_at, h.last_run_at) else h.last_run_at end;
  return OLD;
end $$;`);
    this.addSql(
      `create trigger account_health_task_remove before delete on backup_tasks for each row when (OLD.deleted_at is null) execute function account_health_task_remove();`,
    );
  }
}
