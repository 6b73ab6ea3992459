import { Migration } from '@mikro-orm/migrations';

export class Migration20261122052349_identity extends Migration {
  override name = 'Migration20261122052349_identity';

  // SQLite rebuilds altered tables (create, copy, drop, rename), which needs foreign keys
  // switched off; that pragma is ignored inside a transaction, so this migration opens its own
  // transaction after switching them off.
  override isTransactional(): boolean {
    return false;
  }

  // Rows of an appliance set up before tenancy existed: only the root organization and its
  // administrators, so the root's path is its own id and every user is active and confirmed.
  override up(): void | Promise<void> {
    // Foreign keys off for the table rebuilds, the rebuild itself atomic, then checked.
    this.addSql('pragma foreign_keys = off;');
    this.addSql('begin immediate;');
    this.addSql(
      `create table \`login_throttles\` (\`key\` text not null primary key, \`failures\` integer not null, \`window_started_at\` datetime not null, \`locked_until\` datetime null);`,
    );

    this.addSql(
      `create table \`mail_messages\` (\`id\` integer not null primary key autoincrement, \`created_at\` datetime not null, \`to\` text not null, \`subject\` text not null, \`text\` text not null, \`status\` text check (\`status\` in ('outbox', 'sent', 'failed')) not null, \`sent_at\` datetime null, \`error\` text null);`,
    );
    this.addSql(`create index \`mail_messages_created_at_index\` on \`mail_messages\` (\`created_at\`);`);

    this.addSql(
      `create table \`ip_rules\` (\`id\` text not null primary key, \`organization_id\` text not null, \`description\` text null, \`entries\` json not null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`ip_rules_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`ip_rules_organization_id_index\` on \`ip_rules\` (\`organization_id\`);`);

    this.addSql(
      `create table \`audit_events\` (\`id\` integer not null primary key autoincrement, \`at\` datetime not null, \`organization_id\` text null, \`activity\` text not null, \`service\` text null, \`status\` text check (\`status\` in ('completed', 'failed')) not null, \`account\` text null, \`performed_by\` text null, \`performer_id\` text null, \`ip\` text null, \`user_agent\` text null, \`description\` text not null, constraint \`audit_events_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`audit_events_organization_id_index\` on \`audit_events\` (\`organization_id\`);`);
    this.addSql(
      `create index \`audit_events_organization_id_at_index\` on \`audit_events\` (\`organization_id\`, \`at\`);`,
    );
    this.addSql(`create index \`audit_events_at_index\` on \`audit_events\` (\`at\`);`);

    this.addSql(
      `create table \`recovery_codes\` (\`id\` integer not null primary key autoincrement, \`user_id\` text not null, \`code_hash\` text not null, \`used_at\` datetime null, constraint \`recovery_codes_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`recovery_codes_user_id_index\` on \`recovery_codes\` (\`user_id\`);`);

    this.addSql(
      `create table \`one_time_tokens\` (\`id\` text not null primary key, \`user_id\` text not null, \`purpose\` text check (\`purpose\` in ('confirm_email', 'reset_password')) not null, \`email\` text null, \`created_at\` datetime not null, \`expires_at\` datetime not null, \`used_at\` datetime null, constraint \`one_time_tokens_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`one_time_tokens_user_id_index\` on \`one_time_tokens\` (\`user_id\`);`);

    this.addSql(
      `create table \`api_keys\` (\`id\` text not null primary key, \`organization_id\` text not null, \`secret_hash\` text not null, \`created_by_id\` text null, \`created_by_email\` text not null, \`created_at\` datetime not null, \`last_used_at\` datetime null, constraint \`api_keys_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade, constraint \`api_keys_created_by_id_foreign\` foreign key (\`created_by_id\`) references \`users\` (\`id\`) on delete set null);`,
    );
    this.addSql(`create index \`api_keys_organization_id_index\` on \`api_keys\` (\`organization_id\`);`);
    this.addSql(`create index \`api_keys_created_by_id_index\` on \`api_keys\` (\`created_by_id\`);`);

    this.addSql(
      `create table \`api_tokens\` (\`id\` text not null primary key, \`api_key_id\` text not null, \`kind\` text check (\`kind\` in ('access', 'refresh')) not null, \`created_at\` datetime not null, \`expires_at\` datetime not null, constraint \`api_tokens_api_key_id_foreign\` foreign key (\`api_key_id\`) references \`api_keys\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`api_tokens_api_key_id_index\` on \`api_tokens\` (\`api_key_id\`);`);
    this.addSql(`create index \`api_tokens_expires_at_index\` on \`api_tokens\` (\`expires_at\`);`);

    this.addSql(
      `create table \`organizations__temp_alter\` (\`id\` text not null primary key, \`name\` text not null, \`kind\` text check (\`kind\` in ('root', 'distributor', 'partner', 'customer')) not null, \`parent_id\` text null, \`path\` text not null, \`contact_name\` text null, \`contact_email\` text null, \`phone\` text null, \`status\` text check (\`status\` in ('active', 'removal_pending')) not null default 'active', \`removal_requested_at\` datetime null, \`purge_after\` datetime null, \`enforce_two_factor\` integer not null default false, \`password_expiry_days\` integer null, \`ip_restrictions_enabled\` integer not null default false, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`organizations_parent_id_foreign\` foreign key (\`parent_id\`) references \`organizations\` (\`id\`) on delete set null);`,
    );
    this.addSql(
      `insert into \`organizations__temp_alter\` select \`id\`, \`name\`, \`kind\`, \`parent_id\`, '/' || \`id\` || '/' as \`path\`, null as \`contact_name\`, null as \`contact_email\`, null as \`phone\`, 'active' as \`status\`, null as \`removal_requested_at\`, null as \`purge_after\`, 0 as \`enforce_two_factor\`, null as \`password_expiry_days\`, 0 as \`ip_restrictions_enabled\`, \`created_at\`, \`updated_at\` from \`organizations\`;`,
    );
    this.addSql(`drop table \`organizations\`;`);
    this.addSql(`alter table \`organizations__temp_alter\` rename to \`organizations\`;`);
    this.addSql(`create index \`organizations_parent_id_index\` on \`organizations\` (\`parent_id\`);`);
    this.addSql(`create index \`organizations_path_index\` on \`organizations\` (\`path\`);`);
    this.addSql(`create index \`organizations_purge_after_index\` on \`organizations\` (\`purge_after\`);`);

    this.addSql(
      `create table \`users__temp_alter\` (\`id\` text not null primary key, \`organization_id\` text not null, \`email\` text not null, \`display_name\` text null, \`password_hash\` text null, \`password_changed_at\` datetime null, \`role\` text check (\`role\` in ('administrator', 'custom')) not null, \`permissions\` json not null default '[]', \`accessible_accounts\` text check (\`accessible_accounts\` in ('all', 'selected')) not null default 'all', \`accessible_organization_ids\` json not null default '[]', \`status\` text check (\`status\` in ('pending', 'active', 'deactivated')) not null default 'active', \`email_confirmed_at\` datetime null, \`pending_email\` text null, \`totp_secret\` text null, \`totp_enabled_at\` datetime null, \`totp_last_step\` integer null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`last_login_at\` datetime null, constraint \`users_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`));`,
    );
    this.addSql(
      `insert into \`users__temp_alter\` select \`id\`, \`organization_id\`, \`email\`, null as \`display_name\`, \`password_hash\`, \`created_at\` as \`password_changed_at\`, \`role\`, '[]' as \`permissions\`, 'all' as \`accessible_accounts\`, '[]' as \`accessible_organization_ids\`, 'active' as \`status\`, \`created_at\` as \`email_confirmed_at\`, null as \`pending_email\`, null as \`totp_secret\`, null as \`totp_enabled_at\`, null as \`totp_last_step\`, \`created_at\`, \`updated_at\`, \`last_login_at\` from \`users\`;`,
    );
    this.addSql(`drop table \`users\`;`);
    this.addSql(`alter table \`users__temp_alter\` rename to \`users\`;`);
    this.addSql(`create index \`users_organization_id_index\` on \`users\` (\`organization_id\`);`);
    this.addSql(`create unique index \`users_email_unique\` on \`users\` (\`email\`);`);

    this.addSql(
      `create table \`sessions__temp_alter\` (\`id\` text not null primary key, \`user_id\` text not null, \`stage\` text check (\`stage\` in ('active', 'second_factor', 'enrol_second_factor', 'new_password')) not null default 'active', \`acting_organization_id\` text null, \`created_at\` datetime not null, \`last_seen_at\` datetime not null, \`expires_at\` datetime not null, \`ip\` text null, \`user_agent\` text null, constraint \`sessions_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete cascade, constraint \`sessions_acting_organization_id_foreign\` foreign key (\`acting_organization_id\`) references \`organizations\` (\`id\`) on delete set null);`,
    );
    this.addSql(
      `insert into \`sessions__temp_alter\` select \`id\`, \`user_id\`, 'active' as \`stage\`, null as \`acting_organization_id\`, \`created_at\`, \`created_at\` as \`last_seen_at\`, \`expires_at\`, \`ip\`, \`user_agent\` from \`sessions\`;`,
    );
    this.addSql(`drop table \`sessions\`;`);
    this.addSql(`alter table \`sessions__temp_alter\` rename to \`sessions\`;`);
    this.addSql(`create index \`sessions_user_id_index\` on \`sessions\` (\`user_id\`);`);
    this.addSql(`create index \`sessions_acting_organization_id_index\` on \`sessions\` (\`acting_organization_id\`);`);
    this.addSql(`create index \`sessions_expires_at_index\` on \`sessions\` (\`expires_at\`);`);
    this.addSql('commit;');
    this.addSql('pragma foreign_keys = on;');
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`login_throttles\`;`);
    this.addSql(`drop table if exists \`mail_messages\`;`);
    this.addSql(`drop table if exists \`ip_rules\`;`);
    this.addSql(`drop table if exists \`audit_events\`;`);
    this.addSql(`drop table if exists \`recovery_codes\`;`);
    this.addSql(`drop table if exists \`one_time_tokens\`;`);
    this.addSql(`drop table if exists \`api_keys\`;`);
    this.addSql(`drop table if exists \`api_tokens\`;`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(
      `create table \`organizations__temp_alter\` (\`created_at\` datetime not null, \`id\` text not null primary key, \`kind\` text check (\`kind\` in ('root', 'distributor', 'partner', 'customer')) not null, \`name\` text not null, \`parent_id\` text null, \`updated_at\` datetime not null, constraint \`organizations_parent_id_foreign\` foreign key (\`parent_id\`) references \`organizations\` (\`id\`) on delete set null);`,
    );
    this.addSql(
      `insert into \`organizations__temp_alter\` select \`created_at\`, \`id\`, \`kind\`, \`name\`, \`parent_id\`, \`updated_at\` from \`organizations\`;`,
    );
    this.addSql(`drop table \`organizations\`;`);
    this.addSql(`alter table \`organizations__temp_alter\` rename to \`organizations\`;`);
    this.addSql(`create index \`organizations_parent_id_index\` on \`organizations\` (\`parent_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(
      `create table \`sessions__temp_alter\` (\`created_at\` datetime not null, \`expires_at\` datetime not null, \`id\` text not null primary key, \`ip\` text null, \`user_agent\` text null, \`user_id\` text not null, constraint \`sessions_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `insert into \`sessions__temp_alter\` select \`created_at\`, \`expires_at\`, \`id\`, \`ip\`, \`user_agent\`, \`user_id\` from \`sessions\`;`,
    );
    this.addSql(`drop table \`sessions\`;`);
    this.addSql(`alter table \`sessions__temp_alter\` rename to \`sessions\`;`);
    this.addSql(`create index \`sessions_expires_at_index\` on \`sessions\` (\`expires_at\`);`);
    this.addSql(`create index \`sessions_user_id_index\` on \`sessions\` (\`user_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(
      `create table \`users__temp_alter\` (\`created_at\` datetime not null, \`email\` text not null, \`id\` text not null primary key, \`last_login_at\` datetime null, \`organization_id\` text not null, \`password_hash\` text not null, \`role\` text check (\`role\` in ('administrator', 'custom')) not null, \`updated_at\` datetime not null, constraint \`users_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`));`,
    );
    this.addSql(
      `insert into \`users__temp_alter\` select \`created_at\`, \`email\`, \`id\`, \`last_login_at\`, \`organization_id\`, \`password_hash\`, \`role\`, \`updated_at\` from \`users\`;`,
    );
    this.addSql(`drop table \`users\`;`);
    this.addSql(`alter table \`users__temp_alter\` rename to \`users\`;`);
    this.addSql(`create unique index \`users_email_unique\` on \`users\` (\`email\`);`);
    this.addSql(`create index \`users_organization_id_index\` on \`users\` (\`organization_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }
}
