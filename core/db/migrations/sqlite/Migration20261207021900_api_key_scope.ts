import { Migration } from '@mikro-orm/migrations';

// API keys get an explicit scope (role, permissions, accessible accounts) and API tokens a
// refresh family. Generated, then written as plain `add column`s (the generated table rebuild
// would have dropped the tokens with the old table) plus the data steps below.
export class Migration20261207021900_api_key_scope extends Migration {
  override name = 'Migration20261207021900_api_key_scope';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table \`api_keys\` add column \`role\` text check (\`role\` in ('administrator', 'custom')) not null default 'custom';`,
    );
    this.addSql(`alter table \`api_keys\` add column \`permissions\` json not null default '[]';`);
    this.addSql(
      `alter table \`api_keys\` add column \`accessible_accounts\` text check (\`accessible_accounts\` in ('all', 'selected')) not null default 'all';`,
    );
    this.addSql(`alter table \`api_keys\` add column \`accessible_organization_ids\` json not null default '[]';`);
    // A key made by a key answers to that key's creator: follow chains of up to five keys.
    for (let i = 0; i < 5; i++) {
      this.addSql(
        `update \`api_keys\` set \`created_by_id\` = (select k.\`created_by_id\` from \`api_keys\` k where 'API key ' || k.\`id\` = \`api_keys\`.\`created_by_email\`) where \`created_by_id\` is null and \`created_by_email\` like 'API key %';`,
      );
    }
    // Existing keys acted as administrators; they keep what their creator holds today and no
    // more. A key without a creator keeps the defaults (Custom, no permission): it is suspended.
    this.addSql(
      `update \`api_keys\` set
        \`role\` = (select u.\`role\` from \`users\` u where u.\`id\` = \`api_keys\`.\`created_by_id\`),
        \`permissions\` = (select case when u.\`role\` = 'administrator' then '[]' else u.\`permissions\` end from \`users\` u where u.\`id\` = \`api_keys\`.\`created_by_id\`),
        \`accessible_accounts\` = (select case when u.\`organization_id\` = \`api_keys\`.\`organization_id\` then u.\`accessible_accounts\` else 'all' end from \`users\` u where u.\`id\` = \`api_keys\`.\`created_by_id\`),
        \`accessible_organization_ids\` = (select case when u.\`organization_id\` = \`api_keys\`.\`organization_id\` then u.\`accessible_organization_ids\` else '[]' end from \`users\` u where u.\`id\` = \`api_keys\`.\`created_by_id\`)
      where \`created_by_id\` is not null;`,
    );

    this.addSql(`alter table \`api_tokens\` add column \`family\` text not null default '';`);
    this.addSql(`alter table \`api_tokens\` add column \`used_at\` datetime null;`);
    // Tokens issued before families existed each start their own.
    this.addSql(`update \`api_tokens\` set \`family\` = \`id\`;`);
    this.addSql(`create index \`api_tokens_family_index\` on \`api_tokens\` (\`family\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`api_tokens_family_index\`;`);
    this.addSql(`alter table \`api_tokens\` drop column \`family\`;`);
    this.addSql(`alter table \`api_tokens\` drop column \`used_at\`;`);
    this.addSql(`alter table \`api_keys\` drop column \`accessible_organization_ids\`;`);
    this.addSql(`alter table \`api_keys\` drop column \`accessible_accounts\`;`);
    this.addSql(`alter table \`api_keys\` drop column \`permissions\`;`);
    this.addSql(`alter table \`api_keys\` drop column \`role\`;`);
  }
}
