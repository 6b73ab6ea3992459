import { Migration } from '@mikro-orm/migrations';

export class Migration20261122070656_jobs extends Migration {
  override name = 'Migration20261122070656_jobs';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`backup_tasks\` (\`id\` text not null primary key, \`organization_id\` text not null, \`service\` text not null, \`name\` text not null, \`connection\` text not null, \`connection_state\` text check (\`connection_state\` in ('connected', 'disconnected')) not null default 'connected', \`connection_problem\` text null, \`frequency\` text check (\`frequency\` in ('daily', 'every_3_days', 'weekly', 'three_times_daily')) not null default 'daily', \`backup_hour\` integer not null default 3, \`api_usage_limit_percent\` integer null, \`index_for_search\` integer not null default true, \`auto_activate\` integer not null default true, \`archived_retention_days\` integer null, \`retention\` json not null default '{"kind":"all"}', \`storage_location\` text null, \`status\` text check (\`status\` in ('active', 'paused')) not null default 'active', \`deleted_at\` datetime null, \`purge_after\` datetime null, \`last_scheduled_for\` datetime null, \`discovered_at\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`backup_tasks_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`backup_tasks_organization_id_index\` on \`backup_tasks\` (\`organization_id\`);`);
    this.addSql(`create index \`backup_tasks_purge_after_index\` on \`backup_tasks\` (\`purge_after\`);`);

    this.addSql(
      `create table \`task_entities\` (\`id\` text not null primary key, \`task_id\` text not null, \`external_id\` text not null, \`name\` text not null, \`kind\` text not null, \`status\` text check (\`status\` in ('not_active', 'scheduled', 'in_process', 'success', 'partial', 'failed', 'paused', 'archived')) not null default 'not_active', \`last_run_at\` datetime null, \`last_added\` integer not null default 0, \`last_updated\` integer not null default 0, \`last_deleted\` integer not null default 0, \`last_items\` integer not null default 0, \`last_bytes\` double not null default 0, \`last_snapshot_id\` text null, \`last_error\` text null, \`archived_at\` datetime null, \`deleted_at\` datetime null, \`purge_after\` datetime null, \`plugin_state\` json null, \`created_at\` datetime not null, constraint \`task_entities_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`task_entities_task_id_index\` on \`task_entities\` (\`task_id\`);`);
    this.addSql(`create index \`task_entities_task_id_status_index\` on \`task_entities\` (\`task_id\`, \`status\`);`);
    this.addSql(
      `create unique index \`task_entities_task_id_external_id_unique\` on \`task_entities\` (\`task_id\`, \`external_id\`);`,
    );

    this.addSql(
      `create table \`jobs\` (\`id\` text not null primary key, \`organization_id\` text not null, \`kind\` text check (\`kind\` in ('backup', 'restore', 'export', 'compare', 'replicate', 'maintenance')) not null, \`state\` text check (\`state\` in ('pending', 'in_progress', 'succeeded', 'partially_succeeded', 'failed', 'canceled')) not null default 'pending', \`label\` text not null, \`task_id\` text null, \`entity_id\` text null, \`initiator_kind\` text check (\`initiator_kind\` in ('user', 'schedule', 'api_key', 'system')) not null, \`initiator_id\` text null, \`initiator_label\` text null, \`params\` json not null default '{}', \`dedupe_key\` text null, \`scheduled_for\` datetime null, \`run_after\` datetime not null, \`attempts\` integer not null default 0, \`max_attempts\` integer not null default 3, \`lease_owner\` text null, \`lease_expires_at\` datetime null, \`heartbeat_at\` datetime null, \`cancel_requested_at\` datetime null, \`progress_items\` integer not null default 0, \`progress_bytes\` double not null default 0, \`progress_step\` text null, \`result\` json null, \`error\` text null, \`log\` json not null default '[]', \`created_at\` datetime not null, \`started_at\` datetime null, \`finished_at\` datetime null, constraint \`jobs_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade, constraint \`jobs_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete set null, constraint \`jobs_entity_id_foreign\` foreign key (\`entity_id\`) references \`task_entities\` (\`id\`) on delete set null);`,
    );
    this.addSql(`create index \`jobs_organization_id_index\` on \`jobs\` (\`organization_id\`);`);
    this.addSql(`create index \`jobs_task_id_index\` on \`jobs\` (\`task_id\`);`);
    this.addSql(`create index \`jobs_entity_id_index\` on \`jobs\` (\`entity_id\`);`);
    this.addSql(`create unique index \`jobs_dedupe_key_unique\` on \`jobs\` (\`dedupe_key\`);`);
    this.addSql(`create index \`jobs_state_run_after_index\` on \`jobs\` (\`state\`, \`run_after\`);`);
    this.addSql(
      `create index \`jobs_organization_id_created_at_index\` on \`jobs\` (\`organization_id\`, \`created_at\`);`,
    );
    this.addSql(`create index \`jobs_task_id_state_index\` on \`jobs\` (\`task_id\`, \`state\`);`);
    this.addSql(`create index \`jobs_state_lease_expires_at_index\` on \`jobs\` (\`state\`, \`lease_expires_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`backup_tasks\`;`);
    this.addSql(`drop table if exists \`task_entities\`;`);
    this.addSql(`drop table if exists \`jobs\`;`);
  }
}
