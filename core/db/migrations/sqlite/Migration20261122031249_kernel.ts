import { Migration } from '@mikro-orm/migrations';

export class Migration20261122031249_kernel extends Migration {
  override name = 'Migration20261122031249_kernel';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`organizations\` (\`id\` text not null primary key, \`name\` text not null, \`kind\` text check (\`kind\` in ('root', 'distributor', 'partner', 'customer')) not null, \`parent_id\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`organizations_parent_id_foreign\` foreign key (\`parent_id\`) references \`organizations\` (\`id\`) on delete set null);`,
    );
    this.addSql(`create index \`organizations_parent_id_index\` on \`organizations\` (\`parent_id\`);`);

    this.addSql(
      `create table \`system_facts\` (\`key\` text not null primary key, \`value\` text not null, \`created_at\` datetime not null);`,
    );

    this.addSql(
      `create table \`users\` (\`id\` text not null primary key, \`organization_id\` text not null, \`email\` text not null, \`password_hash\` text not null, \`role\` text check (\`role\` in ('administrator', 'custom')) not null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`last_login_at\` datetime null, constraint \`users_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`));`,
    );
    this.addSql(`create index \`users_organization_id_index\` on \`users\` (\`organization_id\`);`);
    this.addSql(`create unique index \`users_email_unique\` on \`users\` (\`email\`);`);

    this.addSql(
      `create table \`sessions\` (\`id\` text not null primary key, \`user_id\` text not null, \`created_at\` datetime not null, \`expires_at\` datetime not null, \`ip\` text null, \`user_agent\` text null, constraint \`sessions_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`sessions_user_id_index\` on \`sessions\` (\`user_id\`);`);
    this.addSql(`create index \`sessions_expires_at_index\` on \`sessions\` (\`expires_at\`);`);
  }
}
