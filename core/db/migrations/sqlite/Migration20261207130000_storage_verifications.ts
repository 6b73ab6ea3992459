import { Migration } from '@mikro-orm/migrations';

// Scheduled verification per storage location (core/storage-locations/verification.ts).
export class Migration20261207130000_storage_verifications extends Migration {
  override name = 'Migration20261207130000_storage_verifications';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`storage_verifications\` (\`id\` integer not null primary key autoincrement, \`location_id\` text not null, \`sample_percent\` integer not null default 10, \`interval_hours\` integer not null default 24, \`runs\` integer not null default 0, \`last_run_at\` datetime null, \`last_ok\` integer null, \`last_result\` json null, \`notified_key\` text null, \`updated_at\` datetime not null, constraint \`storage_verifications_location_id_foreign\` foreign key (\`location_id\`) references \`storage_locations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`storage_verifications_location_id_index\` on \`storage_verifications\` (\`location_id\`);`,
    );
    this.addSql(
      `create unique index \`storage_verifications_location_id_unique\` on \`storage_verifications\` (\`location_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`storage_verifications\`;`);
  }
}
