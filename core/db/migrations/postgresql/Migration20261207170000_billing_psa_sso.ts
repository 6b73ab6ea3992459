import { Migration } from '@mikro-orm/migrations';

// What the SQLite migrations from Migration20261207153000_catalog_content_id to
// Migration20261207164500_partner_access_index add, for PostgreSQL: catalog content ids, MSP
// billing (plans, billing accounts, invoices, per-kind usage), PSA tickets and company mapping,
// single sign-on (providers, domains, pending sign-ins, external identities, SAML assertion
// uses), and the partner-access index. Written from the schema generator's difference between
// the entities and Migration20261207160000_postgresql_schema.
export class Migration20261207170000_billing_psa_sso extends Migration {
  override name = 'Migration20261207170000_billing_psa_sso';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "invoices" ("id" varchar(36) not null, "issuer_id" varchar(36) not null, "account_id" varchar(36) not null, "period" varchar(7) not null, "plan_name" varchar(200) not null, "currency" varchar(3) not null, "status" text not null default 'draft', "sequence" int null, "number" varchar(40) null, "subtotal_cents" int not null, "tax_rate_basis_points" int not null, "tax_cents" int not null, "total_cents" int not null, "billable_days" int not null, "month_days" int not null, "created_at" timestamptz not null, "issued_at" timestamptz null, "due_at" timestamptz null, "paid_at" timestamptz null, "paid_by" varchar(200) null, "mailed_to" varchar(320) null, primary key ("id"));`,
    );
    this.addSql(`create index "invoices_issuer_id_index" on "invoices" ("issuer_id");`);
    this.addSql(`create index "invoices_account_id_index" on "invoices" ("account_id");`);
    this.addSql(
      `alter table "invoices" add constraint "invoices_account_id_period_unique" unique ("account_id", "period");`,
    );
    this.addSql(
      `alter table "invoices" add constraint "invoices_issuer_id_sequence_unique" unique ("issuer_id", "sequence");`,
    );
    this.addSql(
      `create table "invoice_lines" ("id" serial primary key, "invoice_id" varchar(36) not null, "position" int not null, "meter" varchar(200) not null, "description" varchar(500) not null, "quantity" varchar(40) not null, "amount_cents" int not null);`,
    );
    this.addSql(`create index "invoice_lines_invoice_id_index" on "invoice_lines" ("invoice_id");`);
    this.addSql(
      `create table "integration_tickets" ("id" varchar(36) not null, "integration_id" varchar(36) not null, "account_id" varchar(36) not null, "task_id" varchar(36) not null, "ticket_id" varchar(100) null, "company_id" varchar(100) null, "failing" jsonb not null, "last_event_id" int not null, "opening_since" timestamptz null, "opened_at" timestamptz null, "closed_at" timestamptz null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "integration_tickets" add constraint "integration_tickets_integration_id_account_id_task_id_unique" unique ("integration_id", "account_id", "task_id");`,
    );
    this.addSql(
      `create table "integration_companies" ("id" varchar(36) not null, "integration_id" varchar(36) not null, "account_id" varchar(36) not null, "company_id" varchar(100) not null, "company_name" varchar(300) not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "integration_companies" add constraint "integration_companies_integration_id_account_id_unique" unique ("integration_id", "account_id");`,
    );
    this.addSql(
      `create table "price_plans" ("id" serial primary key, "issuer_id" varchar(36) not null, "name" varchar(200) not null, "currency" varchar(3) not null, "period" text not null, "meters" jsonb not null, "minimum_cents" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null);`,
    );
    this.addSql(`create index "price_plans_issuer_id_index" on "price_plans" ("issuer_id");`);
    this.addSql(
      `alter table "price_plans" add constraint "price_plans_issuer_id_name_unique" unique ("issuer_id", "name");`,
    );
    this.addSql(
      `create table "billing_accounts" ("organization_id" varchar(36) not null, "plan_id" int null, "default_plan_id" int null, "tax_rate_basis_points" int not null default 0, "billing_email" varchar(320) null, "payment_terms_days" int not null default 14, "trial_ends_at" timestamptz null, "trial_expired_at" timestamptz null, "subscribed_at" timestamptz null, "updated_at" timestamptz not null, primary key ("organization_id"));`,
    );
    this.addSql(`create index "billing_accounts_trial_ends_at_index" on "billing_accounts" ("trial_ends_at");`);
    this.addSql(
      `create table "saml_assertion_uses" ("key" varchar(64) not null, "expires_at" timestamptz not null, primary key ("key"));`,
    );
    this.addSql(`create index "saml_assertion_uses_expires_at_index" on "saml_assertion_uses" ("expires_at");`);
    this.addSql(
      `create table "sso_domains" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "domain" varchar(253) not null, "token" varchar(64) not null, "verified_at" timestamptz null, "verified_by" varchar(10) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "sso_domains_organization_id_index" on "sso_domains" ("organization_id");`);
    this.addSql(`create index "sso_domains_domain_index" on "sso_domains" ("domain");`);
    this.addSql(
      `create table "sso_providers" ("id" varchar(36) not null, "organization_id" varchar(36) not null, "protocol" text not null, "preset" varchar(20) not null, "name" varchar(100) not null, "enabled" boolean not null default true, "settings" jsonb not null, "secrets_sealed" text null, "jit_enabled" boolean not null default false, "jit_role" text not null default 'custom', "jit_permissions" jsonb not null default '[]', "group_rules" jsonb not null default '[]', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "sso_providers_organization_id_index" on "sso_providers" ("organization_id");`);
    this.addSql(
      `create table "sso_pending_sign_ins" ("id" varchar(64) not null, "provider_id" varchar(36) not null, "binding_hash" varchar(64) not null, "nonce" varchar(100) not null, "code_verifier" varchar(200) not null, "protocol_data" jsonb not null default '{}', "login_hint" varchar(320) null, "next" varchar(2000) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "sso_pending_sign_ins_provider_id_index" on "sso_pending_sign_ins" ("provider_id");`);
    this.addSql(`create index "sso_pending_sign_ins_expires_at_index" on "sso_pending_sign_ins" ("expires_at");`);
    this.addSql(
      `create table "usage_kind_samples" ("organization_id" varchar(36) not null, "day" varchar(10) not null, "kind" varchar(100) not null, "protected" int not null default 0, primary key ("organization_id", "day", "kind"));`,
    );
    this.addSql(
      `create table "external_identities" ("id" varchar(36) not null, "user_id" varchar(36) not null, "provider_id" varchar(36) not null, "subject" varchar(500) not null, "email" varchar(320) null, "created_at" timestamptz not null, "last_sign_in_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "external_identities_user_id_index" on "external_identities" ("user_id");`);
    this.addSql(
      `alter table "external_identities" add constraint "external_identities_provider_id_subject_unique" unique ("provider_id", "subject");`,
    );
    this.addSql(`alter table "catalog_versions" add "content_id" varchar(32) null;`);
    this.addSql(
      `alter table "organizations" add "backup_hold" varchar(300) null, add "sign_in_policy" text not null default 'either', add "sso_break_glass_user_id" varchar(36) null;`,
    );
    this.addSql(
      `create index "organizations_partner_access_removed_at_index" on "organizations" ("partner_access_removed_at");`,
    );
    this.addSql(
      `alter table "organizations" add constraint "organizations_sign_in_policy_check" check ("sign_in_policy" in ('password', 'sso', 'either'));`,
    );
    this.addSql(`alter table "notifications" drop constraint "notifications_type_check";`);
    this.addSql(
      `alter table "notifications" add constraint "notifications_type_check" check ("type" in ('summary', 'recovery', 'exceptions', 'discovery', 'smart_alerts', 'trials'));`,
    );
    this.addSql(
      `alter table "sessions" add "sso_provider_id" varchar(36) null, add "sso_revalidate_at" timestamptz null, add "sso_refresh_sealed" text null;`,
    );
    this.addSql(`create index "sessions_sso_provider_id_index" on "sessions" ("sso_provider_id");`);
    this.addSql(
      `alter table "invoices" add constraint "invoices_issuer_id_foreign" foreign key ("issuer_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "invoices" add constraint "invoices_account_id_foreign" foreign key ("account_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "invoices" add constraint "invoices_status_check" check ("status" in ('draft', 'issued', 'paid'));`,
    );
    this.addSql(
      `alter table "invoice_lines" add constraint "invoice_lines_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "integration_tickets" add constraint "integration_tickets_integration_id_foreign" foreign key ("integration_id") references "integrations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "integration_tickets" add constraint "integration_tickets_account_id_foreign" foreign key ("account_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "integration_companies" add constraint "integration_companies_integration_id_foreign" foreign key ("integration_id") references "integrations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "integration_companies" add constraint "integration_companies_account_id_foreign" foreign key ("account_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "price_plans" add constraint "price_plans_issuer_id_foreign" foreign key ("issuer_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "price_plans" add constraint "price_plans_period_check" check ("period" in ('monthly', 'annual'));`,
    );
    this.addSql(
      `alter table "billing_accounts" add constraint "billing_accounts_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "billing_accounts" add constraint "billing_accounts_plan_id_foreign" foreign key ("plan_id") references "price_plans" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "billing_accounts" add constraint "billing_accounts_default_plan_id_foreign" foreign key ("default_plan_id") references "price_plans" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "sso_domains" add constraint "sso_domains_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "sso_providers" add constraint "sso_providers_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "sso_providers" add constraint "sso_providers_protocol_check" check ("protocol" in ('oidc', 'saml'));`,
    );
    this.addSql(
      `alter table "sso_providers" add constraint "sso_providers_jit_role_check" check ("jit_role" in ('administrator', 'custom'));`,
    );
    this.addSql(
      `alter table "sso_pending_sign_ins" add constraint "sso_pending_sign_ins_provider_id_foreign" foreign key ("provider_id") references "sso_providers" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "usage_kind_samples" add constraint "usage_kind_samples_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "external_identities" add constraint "external_identities_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "external_identities" add constraint "external_identities_provider_id_foreign" foreign key ("provider_id") references "sso_providers" ("id") on delete cascade;`,
    );
  }
}
