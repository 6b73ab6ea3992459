import { Migration } from '@mikro-orm/migrations';

// MSP billing (core/billing/): price plans, each account's billing settings and trial, invoices
// and their lines, the usage history's daily protected count per entity kind, the backup hold of
// an account (an ended trial), and the notification type `trials` (the Trial accounts report).
export class Migration20261207160000_billing extends Migration {
  override name = 'Migration20261207160000_billing';

  // The notifications table is rebuilt (create, copy, drop, rename), which needs foreign keys
  // switched off (mail_messages points at it); that pragma is ignored inside a transaction, so
  // this migration opens its own after switching them off, and checks the keys before committing.
  override isTransactional(): boolean {
    return false;
  }

  override up(): void | Promise<void> {
    this.addSql('pragma foreign_keys = off;');
    this.addSql('begin immediate;');
    this.addSql(
      "create table `price_plans` (`id` integer not null primary key autoincrement, `issuer_id` text not null, `name` text not null, `currency` text not null, `period` text check (`period` in ('monthly', 'annual')) not null, `meters` json not null, `minimum_cents` integer not null default 0, `created_at` datetime not null, `updated_at` datetime not null, constraint `price_plans_issuer_id_foreign` foreign key (`issuer_id`) references `organizations` (`id`) on delete cascade);",
    );
    this.addSql('create index `price_plans_issuer_id_index` on `price_plans` (`issuer_id`);');
    this.addSql('create unique index `price_plans_issuer_id_name_unique` on `price_plans` (`issuer_id`, `name`);');
    this.addSql(
      'create table `billing_accounts` (`organization_id` text not null primary key, `plan_id` integer null, `default_plan_id` integer null, `tax_rate_basis_points` integer not null default 0, `billing_email` text null, `payment_terms_days` integer not null default 14, `trial_ends_at` datetime null, `trial_expired_at` datetime null, `subscribed_at` datetime null, `updated_at` datetime not null, constraint `billing_accounts_organization_id_foreign` foreign key (`organization_id`) references `organizations` (`id`) on update cascade on delete cascade, constraint `billing_accounts_plan_id_foreign` foreign key (`plan_id`) references `price_plans` (`id`) on delete set null, constraint `billing_accounts_default_plan_id_foreign` foreign key (`default_plan_id`) references `price_plans` (`id`) on delete set null);',
    );
    this.addSql('create index `billing_accounts_plan_id_index` on `billing_accounts` (`plan_id`);');
    this.addSql('create index `billing_accounts_default_plan_id_index` on `billing_accounts` (`default_plan_id`);');
    this.addSql('create index `billing_accounts_trial_ends_at_index` on `billing_accounts` (`trial_ends_at`);');
    this.addSql(
      "create table `invoices` (`id` text not null primary key, `issuer_id` text not null, `account_id` text not null, `period` text not null, `plan_name` text not null, `currency` text not null, `status` text check (`status` in ('draft', 'issued', 'paid')) not null default 'draft', `sequence` integer null, `number` text null, `subtotal_cents` integer not null, `tax_rate_basis_points` integer not null, `tax_cents` integer not null, `total_cents` integer not null, `billable_days` integer not null, `month_days` integer not null, `created_at` datetime not null, `issued_at` datetime null, `due_at` datetime null, `paid_at` datetime null, `paid_by` text null, `mailed_to` text null, constraint `invoices_issuer_id_foreign` foreign key (`issuer_id`) references `organizations` (`id`) on delete cascade, constraint `invoices_account_id_foreign` foreign key (`account_id`) references `organizations` (`id`) on delete cascade);",
    );
    this.addSql('create index `invoices_issuer_id_index` on `invoices` (`issuer_id`);');
    this.addSql('create index `invoices_account_id_index` on `invoices` (`account_id`);');
    this.addSql('create unique index `invoices_account_id_period_unique` on `invoices` (`account_id`, `period`);');
    this.addSql('create unique index `invoices_issuer_id_sequence_unique` on `invoices` (`issuer_id`, `sequence`);');
    this.addSql(
      'create table `invoice_lines` (`id` integer not null primary key autoincrement, `invoice_id` text not null, `position` integer not null, `meter` text not null, `description` text not null, `quantity` text not null, `amount_cents` integer not null, constraint `invoice_lines_invoice_id_foreign` foreign key (`invoice_id`) references `invoices` (`id`) on delete cascade);',
    );
    this.addSql('create index `invoice_lines_invoice_id_index` on `invoice_lines` (`invoice_id`);');
    this.addSql(
      'create table `usage_kind_samples` (`organization_id` text not null, `day` text not null, `kind` text not null, `protected` integer not null default 0, primary key (`organization_id`, `day`, `kind`), constraint `usage_kind_samples_organization_id_foreign` foreign key (`organization_id`) references `organizations` (`id`) on delete cascade);',
    );
    this.addSql('create index `usage_kind_samples_organization_id_index` on `usage_kind_samples` (`organization_id`);');
    this.addSql('alter table `organizations` add column `backup_hold` text null;');
    // A new notification type: SQLite keeps the check in the table, so the table is rebuilt.
    this.addSql(
      "create table `notifications_new` (`id` integer not null primary key autoincrement, `organization_id` text not null, `type` text check (`type` in ('summary', 'recovery', 'exceptions', 'discovery', 'smart_alerts', 'trials')) not null, `event_key` text not null, `payload` json not null, `created_at` datetime not null, `fanned_out_at` datetime null, constraint `notifications_organization_id_foreign` foreign key (`organization_id`) references `organizations` (`id`) on delete cascade);",
    );
    this.addSql(
      'insert into `notifications_new` (`id`, `organization_id`, `type`, `event_key`, `payload`, `created_at`, `fanned_out_at`) select `id`, `organization_id`, `type`, `event_key`, `payload`, `created_at`, `fanned_out_at` from `notifications`;',
    );
    this.addSql('drop table `notifications`;');
    this.addSql('alter table `notifications_new` rename to `notifications`;');
    this.addSql('create index `notifications_organization_id_index` on `notifications` (`organization_id`);');
    this.addSql('create unique index `notifications_event_key_unique` on `notifications` (`event_key`);');
    this.addSql('create index `notifications_fanned_out_at_index` on `notifications` (`fanned_out_at`);');
    this.addSql('commit;');
    this.addSql('pragma foreign_keys = on;');
  }

  override down(): void | Promise<void> {
    this.addSql('drop table if exists `invoice_lines`;');
    this.addSql('drop table if exists `invoices`;');
    this.addSql('drop table if exists `billing_accounts`;');
    this.addSql('drop table if exists `price_plans`;');
    this.addSql('drop table if exists `usage_kind_samples`;');
    this.addSql('alter table `organizations` drop column `backup_hold`;');
  }
}
