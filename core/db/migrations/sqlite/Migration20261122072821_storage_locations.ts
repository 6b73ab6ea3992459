import { Migration } from '@mikro-orm/migrations';

export class Migration20261122072821_storage_locations extends Migration {
  override name = 'Migration20261122072821_storage_locations';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`storage_locations\` (\`id\` text not null primary key, \`organization_id\` text not null, \`name\` text not null, \`kind\` text not null, \`settings\` json not null, \`sealed_secrets\` text null, \`builtin\` integer not null default false, \`description\` text null, \`last_tested_at\` datetime null, \`last_test_ok\` integer null, \`last_test_sentence\` text null, \`last_test_detail\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`storage_locations_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`storage_locations_organization_id_index\` on \`storage_locations\` (\`organization_id\`);`,
    );
    this.addSql(
      `create unique index \`storage_locations_organization_id_name_unique\` on \`storage_locations\` (\`organization_id\`, \`name\`);`,
    );

    this.addSql(
      `create table \`organization_storage\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`location_id\` text null, \`default_for_new_accounts_id\` text null, \`updated_at\` datetime not null, constraint \`organization_storage_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade, constraint \`organization_storage_location_id_foreign\` foreign key (\`location_id\`) references \`storage_locations\` (\`id\`) on delete set null, constraint \`organization_storage_default_for_new_accounts_id_foreign\` foreign key (\`default_for_new_accounts_id\`) references \`storage_locations\` (\`id\`) on delete set null);`,
    );
    this.addSql(
      `create index \`organization_storage_organization_id_index\` on \`organization_storage\` (\`organization_id\`);`,
    );
    this.addSql(
      `create unique index \`organization_storage_organization_id_unique\` on \`organization_storage\` (\`organization_id\`);`,
    );
    this.addSql(
      `create index \`organization_storage_location_id_index\` on \`organization_storage\` (\`location_id\`);`,
    );
    this.addSql(
      `create index \`organization_storage_default_for_new_accounts_id_index\` on \`organization_storage\` (\`default_for_new_accounts_id\`);`,
    );

    this.addSql(
      `create table \`storage_repositories\` (\`id\` integer not null primary key autoincrement, \`repository_id\` text not null, \`location_id\` text not null, \`organization_id\` text not null, \`attached_at\` datetime not null, constraint \`storage_repositories_repository_id_foreign\` foreign key (\`repository_id\`) references \`catalog_repositories\` (\`id\`) on delete cascade, constraint \`storage_repositories_location_id_foreign\` foreign key (\`location_id\`) references \`storage_locations\` (\`id\`) on delete cascade, constraint \`storage_repositories_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`storage_repositories_repository_id_index\` on \`storage_repositories\` (\`repository_id\`);`,
    );
    this.addSql(
      `create unique index \`storage_repositories_repository_id_unique\` on \`storage_repositories\` (\`repository_id\`);`,
    );
    this.addSql(
      `create index \`storage_repositories_location_id_index\` on \`storage_repositories\` (\`location_id\`);`,
    );
    this.addSql(
      `create index \`storage_repositories_organization_id_index\` on \`storage_repositories\` (\`organization_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`storage_repositories\`;`);
    this.addSql(`drop table if exists \`organization_storage\`;`);
    this.addSql(`drop table if exists \`storage_locations\`;`);
  }
}
