import { Migration } from '@mikro-orm/migrations';

// Pending recovery steps of service plugins (undo what a restore changed at the service, even
// after a crash): see core/tasks/recovery-steps.ts.
export class Migration20261207053000_plugin_recovery_steps extends Migration {
  override name = 'Migration20261207053000_plugin_recovery_steps';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`plugin_recovery_steps\` (\`id\` text not null primary key, \`task_id\` text not null, \`job_id\` text null, \`plugin_kind\` text not null, \`payload\` json not null, \`created_at\` datetime not null, \`attempts\` integer not null default 0, \`last_attempt_at\` datetime null, \`last_error\` text null, constraint \`plugin_recovery_steps_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`plugin_recovery_steps_task_id_index\` on \`plugin_recovery_steps\` (\`task_id\`);`);
    this.addSql(`create index \`plugin_recovery_steps_job_id_index\` on \`plugin_recovery_steps\` (\`job_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`plugin_recovery_steps\`;`);
  }
}
