import { Migration } from '@mikro-orm/migrations';

export class Migration20261122085444_export_results_downloads extends Migration {
  override name = 'Migration20261122085444_export_results_downloads';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`export_results\` (\`id\` text not null primary key, \`organization_id\` text not null, \`job_id\` text not null, \`file_name\` text not null, \`file_path\` text not null, \`size\` double not null, \`format\` text check (\`format\` in ('zip', 'tar')) not null, \`encryption\` text check (\`encryption\` in ('none', 'public_key', 'passphrase')) not null, \`created_at\` datetime not null, \`expires_at\` datetime not null, \`deleted_at\` datetime null, \`downloads\` integer not null default 0, \`last_downloaded_at\` datetime null, constraint \`export_results_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade, constraint \`export_results_job_id_foreign\` foreign key (\`job_id\`) references \`jobs\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`export_results_organization_id_index\` on \`export_results\` (\`organization_id\`);`);
    this.addSql(`create index \`export_results_job_id_index\` on \`export_results\` (\`job_id\`);`);
    this.addSql(`create unique index \`export_results_job_id_unique\` on \`export_results\` (\`job_id\`);`);
    this.addSql(`create index \`export_results_expires_at_index\` on \`export_results\` (\`expires_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`export_results\`;`);
  }
}
