import { Migration } from '@mikro-orm/migrations';

// Restore drills per backup task (core/drills/).
export class Migration20261207123127_restore_drills extends Migration {
  override name = 'Migration20261207123127_restore_drills';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`restore_drills\` (\`id\` text not null primary key, \`organization_id\` text not null, \`task_id\` text not null, \`job_id\` text null, \`started_at\` datetime not null, \`finished_at\` datetime not null, \`passed\` integer not null, \`snapshots\` integer not null, \`items\` integer not null, \`bytes\` double not null, \`storage_bytes_read\` double not null, \`duration_ms\` integer not null, \`failures\` json not null default '[]', constraint \`restore_drills_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade, constraint \`restore_drills_task_id_foreign\` foreign key (\`task_id\`) references \`backup_tasks\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`restore_drills_organization_id_index\` on \`restore_drills\` (\`organization_id\`);`);
    this.addSql(`create index \`restore_drills_task_id_index\` on \`restore_drills\` (\`task_id\`);`);
    this.addSql(
      `create index \`restore_drills_task_id_finished_at_index\` on \`restore_drills\` (\`task_id\`, \`finished_at\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`restore_drills\`;`);
  }
}
