import { Migration } from '@mikro-orm/migrations';

// Single sign-on (core/identity/sso/): identity providers per organization, external identities
// linked to users, pending sign-ins, verified e-mail domains; the organization's sign-in policy
// and break-glass administrator; a session's provider and revalidation time. Generated, then
// the organizations table's rebuild written as plain `add column`s.
export class Migration20261207153000_single_sign_on extends Migration {
  override name = 'Migration20261207153000_single_sign_on';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`sso_domains\` (\`id\` text not null primary key, \`organization_id\` text not null, \`domain\` text not null, \`token\` text not null, \`verified_at\` datetime null, \`verified_by\` text null, \`created_at\` datetime not null, constraint \`sso_domains_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`sso_domains_organization_id_index\` on \`sso_domains\` (\`organization_id\`);`);
    this.addSql(`create index \`sso_domains_domain_index\` on \`sso_domains\` (\`domain\`);`);
    this.addSql(
      `create table \`sso_providers\` (\`id\` text not null primary key, \`organization_id\` text not null, \`protocol\` text check (\`protocol\` in ('oidc', 'saml')) not null, \`preset\` text not null, \`name\` text not null, \`enabled\` integer not null default true, \`settings\` json not null, \`secrets_sealed\` text null, \`jit_enabled\` integer not null default false, \`jit_role\` text check (\`jit_role\` in ('administrator', 'custom')) not null default 'custom', \`jit_permissions\` json not null default '[]', \`group_rules\` json not null default '[]', \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`sso_providers_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`sso_providers_organization_id_index\` on \`sso_providers\` (\`organization_id\`);`);
    this.addSql(
      `create table \`sso_pending_sign_ins\` (\`id\` text not null primary key, \`provider_id\` text not null, \`binding_hash\` text not null, \`nonce\` text not null, \`code_verifier\` text not null, \`protocol_data\` json not null default '{}', \`login_hint\` text null, \`next\` text not null, \`created_at\` datetime not null, \`expires_at\` datetime not null, constraint \`sso_pending_sign_ins_provider_id_foreign\` foreign key (\`provider_id\`) references \`sso_providers\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`sso_pending_sign_ins_provider_id_index\` on \`sso_pending_sign_ins\` (\`provider_id\`);`,
    );
    this.addSql(`create index \`sso_pending_sign_ins_expires_at_index\` on \`sso_pending_sign_ins\` (\`expires_at\`);`);
    this.addSql(
      `create table \`external_identities\` (\`id\` text not null primary key, \`user_id\` text not null, \`provider_id\` text not null, \`subject\` text not null, \`email\` text null, \`created_at\` datetime not null, \`last_sign_in_at\` datetime null, constraint \`external_identities_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete cascade, constraint \`external_identities_provider_id_foreign\` foreign key (\`provider_id\`) references \`sso_providers\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`external_identities_user_id_index\` on \`external_identities\` (\`user_id\`);`);
    this.addSql(`create index \`external_identities_provider_id_index\` on \`external_identities\` (\`provider_id\`);`);
    this.addSql(
      `create unique index \`external_identities_provider_id_subject_unique\` on \`external_identities\` (\`provider_id\`, \`subject\`);`,
    );
    this.addSql(
      `alter table \`organizations\` add column \`sign_in_policy\` text check (\`sign_in_policy\` in ('password', 'sso', 'either')) not null default 'either';`,
    );
    this.addSql(`alter table \`organizations\` add column \`sso_break_glass_user_id\` text null;`);
    this.addSql(`alter table \`sessions\` add column \`sso_provider_id\` text null;`);
    this.addSql(`alter table \`sessions\` add column \`sso_revalidate_at\` datetime null;`);
    this.addSql(`alter table \`sessions\` add column \`sso_refresh_sealed\` text null;`);
    this.addSql(`create index \`sessions_sso_provider_id_index\` on \`sessions\` (\`sso_provider_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`external_identities\`;`);
    this.addSql(`drop table if exists \`sso_pending_sign_ins\`;`);
    this.addSql(`drop table if exists \`sso_domains\`;`);
    this.addSql(`drop table if exists \`sso_providers\`;`);
  }
}
