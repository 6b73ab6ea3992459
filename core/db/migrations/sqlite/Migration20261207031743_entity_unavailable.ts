import { Migration } from '@mikro-orm/migrations';

// Entities unavailable at the source: a new status (the table's check constraint) with its reason
// and the status to return to. SQLite rebuilds the table to change the check, which needs foreign
// keys off (jobs and activity rows point at entities); that pragma is ignored inside a
// transaction, so the migration opens its own after switching them off.
export class Migration20261207031743_entity_unavailable extends Migration {
  override name = 'Migration20261207031743_entity_unavailable';

  override isTransactional(): boolean {
    return false;
  }

  override up(): void | Promise<void> {
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql('begin immediate;');
    this.addSql(
      `create table \`task_entities__temp_alter\` (\`id\` text not null primary key, \`task_id\` text not null, \`external_id\` text not null, \`name\` text not null, \`kind\` text not null, \`status\` text check (\`status\` in ('not_active', 'scheduled', 'in_process', 'success', 'partial', 'failed', 'paused', 'archived', 'unavailable')) not null default 'not_active', \`last_run_at\` datetime null, \`last_added\` integer not null default 0, \`last_updated\` integer not null default 0, \`last_deleted\` integer not null default 0, \`last_items\` integer not null default 0, \`last_bytes\` double not null default 0, \`last_snapshot_id\` text null, \`unavailable_reason\` text null, \`status_before_unavailable\` text check (\`status_before_unavailable\` in ('not_active', 'scheduled', 'in_process', 'success', 'partial', 'failed', 'paused', 'archived', 'unavailable')) null, \`last_error\` text null, \`archived_at\` datetime null, \`deleted_at\` datetime null, \`purge_after\` datetime null, \`plugin_state\` json null, \`created_at\` datetime not null, constraint \`task_entities_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `insert into \`task_entities__temp_alter\` select \`id\`, \`task_id\`, \`external_id\`, \`name\`, \`kind\`, \`status\`, \`last_run_at\`, \`last_added\`, \`last_updated\`, \`last_deleted\`, \`last_items\`, \`last_bytes\`, \`last_snapshot_id\`, null as \`unavailable_reason\`, null as \`status_before_unavailable\`, \`last_error\`, \`archived_at\`, \`deleted_at\`, \`purge_after\`, \`plugin_state\`, \`created_at\` from \`task_entities\`;`,
    );
    this.addSql(`drop table \`task_entities\`;`);
    this.addSql(`alter table \`task_entities__temp_alter\` rename to \`task_entities\`;`);
    this.addSql(`create index \`task_entities_task_id_index\` on \`task_entities\` (\`task_id\`);`);
    this.addSql(`create index \`task_entities_task_id_status_index\` on \`task_entities\` (\`task_id\`, \`status\`);`);
    this.addSql(
      `create unique index \`task_entities_task_id_external_id_unique\` on \`task_entities\` (\`task_id\`, \`external_id\`);`,
    );
    this.addSql('commit;');
    this.addSql(`pragma foreign_keys = on;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql('begin immediate;');
    this.addSql(
      `create table \`task_entities__temp_alter\` (\`archived_at\` datetime null, \`created_at\` datetime not null, \`deleted_at\` datetime null, \`external_id\` text not null, \`id\` text not null primary key, \`kind\` text not null, \`last_added\` integer not null default 0, \`last_bytes\` double not null default 0, \`last_deleted\` integer not null default 0, \`last_error\` text null, \`last_items\` integer not null default 0, \`last_run_at\` datetime null, \`last_snapshot_id\` text null, \`last_updated\` integer not null default 0, \`name\` text not null, \`plugin_state\` json null, \`purge_after\` datetime null, \`status\` text check (\`status\` in ('not_active', 'scheduled', 'in_process', 'success', 'partial', 'failed', 'paused', 'archived')) not null default 'not_active', \`task_id\` text not null, constraint \`task_entities_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `insert into \`task_entities__temp_alter\` select \`archived_at\`, \`created_at\`, \`deleted_at\`, \`external_id\`, \`id\`, \`kind\`, \`last_added\`, \`last_bytes\`, \`last_deleted\`, \`last_error\`, \`last_items\`, \`last_run_at\`, \`last_snapshot_id\`, \`last_updated\`, \`name\`, \`plugin_state\`, \`purge_after\`, \`status\`, \`task_id\` from \`task_entities\`;`,
    );
    this.addSql(`drop table \`task_entities\`;`);
    this.addSql(`alter table \`task_entities__temp_alter\` rename to \`task_entities\`;`);
    this.addSql(
      `create unique index \`task_entities_task_id_external_id_unique\` on \`task_entities\` (\`task_id\`, \`external_id\`);`,
    );
    this.addSql(`create index \`task_entities_task_id_index\` on \`task_entities\` (\`task_id\`);`);
    this.addSql(`create index \`task_entities_task_id_status_index\` on \`task_entities\` (\`task_id\`, \`status\`);`);
    this.addSql('commit;');
    this.addSql(`pragma foreign_keys = on;`);
  }
}
