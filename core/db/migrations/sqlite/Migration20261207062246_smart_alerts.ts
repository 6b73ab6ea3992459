import { Migration } from '@mikro-orm/migrations';

// Smart alert rules per backup task (core/smart-alerts/).
export class Migration20261207062246_smart_alerts extends Migration {
  override name = 'Migration20261207062246_smart_alerts';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`smart_alert_rules\` (\`id\` integer not null primary key autoincrement, \`task_id\` text not null, \`entity_external_id\` text null, \`change\` text check (\`change\` in ('added', 'updated', 'deleted')) not null, \`unit\` text check (\`unit\` in ('count', 'percent')) not null, \`threshold\` integer not null, \`users\` text check (\`users\` in ('one', 'all')) not null, \`enabled\` integer not null default true, \`created_at\` datetime not null, constraint \`smart_alert_rules_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`smart_alert_rules_task_id_index\` on \`smart_alert_rules\` (\`task_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`smart_alert_rules\`;`);
  }
}
