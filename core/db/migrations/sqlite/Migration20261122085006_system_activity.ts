import { Migration } from '@mikro-orm/migrations';

export class Migration20261122085006_system_activity extends Migration {
  override name = 'Migration20261122085006_system_activity';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`activity_events\` (\`id\` integer not null primary key autoincrement, \`at\` datetime not null, \`organization_id\` text not null, \`activity\` text not null, \`service\` text null, \`service_label\` text null, \`sub_service\` text null, \`status\` text check (\`status\` in ('succeeded', 'partially_succeeded', 'failed', 'canceled', 'warning')) not null, \`task_id\` text null, \`task_name\` text null, \`item\` text null, \`job_id\` text null, \`started_at\` datetime null, \`duration_ms\` integer null, \`bytes\` double null, \`items\` integer null, \`summary\` text not null, constraint \`activity_events_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`activity_events_organization_id_index\` on \`activity_events\` (\`organization_id\`);`);
    this.addSql(`create unique index \`activity_events_job_id_unique\` on \`activity_events\` (\`job_id\`);`);
    this.addSql(
      `create index \`activity_events_organization_id_at_index\` on \`activity_events\` (\`organization_id\`, \`at\`);`,
    );
    this.addSql(`create index \`activity_events_at_index\` on \`activity_events\` (\`at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`activity_events\`;`);
  }
}
