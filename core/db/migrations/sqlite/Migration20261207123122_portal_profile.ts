import { Migration } from '@mikro-orm/migrations';

// The MSP portal's account profile (a short human ID, address, country), the customer privacy
// option (partner access removed), the daily usage samples billing prices, and the files a queued
// mail carries (the usage report ZIP). Existing organizations get a short ID of the same form as
// new ones (core/identity/account-code.ts; hex characters here).
export class Migration20261207123122_portal_profile extends Migration {
  override name = 'Migration20261207123122_portal_profile';

  override up(): void | Promise<void> {
    this.addSql('alter table `organizations` add column `code` text null;');
    this.addSql('alter table `organizations` add column `address` text null;');
    this.addSql('alter table `organizations` add column `country` text null;');
    this.addSql('alter table `organizations` add column `partner_access_removed_at` datetime null;');
    this.addSql(
      `update \`organizations\` set \`code\` = (case \`kind\` when 'distributor' then 'D' when 'partner' then 'P' when 'customer' then 'C' else 'R' end) || upper(substr(hex(randomblob(4)), 1, 7));`,
    );
    this.addSql('create unique index `organizations_code_unique` on `organizations` (`code`);');
    this.addSql(
      'create table `usage_samples` (`organization_id` text not null, `day` text not null, `protected` integer not null default 0, `logical_bytes` double not null default 0, `stored_bytes` double not null default 0, primary key (`organization_id`, `day`), constraint `usage_samples_organization_id_foreign` foreign key (`organization_id`) references `organizations` (`id`) on delete cascade);',
    );
    this.addSql('create index `usage_samples_organization_id_index` on `usage_samples` (`organization_id`);');
    this.addSql(
      'create table `mail_files` (`id` integer not null primary key autoincrement, `mail_id` integer not null, `file_name` text not null, `content_type` text not null, `content` blob not null, constraint `mail_files_mail_id_foreign` foreign key (`mail_id`) references `mail_messages` (`id`) on delete cascade);',
    );
    this.addSql('create index `mail_files_mail_id_index` on `mail_files` (`mail_id`);');
  }

  override down(): void | Promise<void> {
    this.addSql('drop table if exists `mail_files`;');
    this.addSql('drop table if exists `usage_samples`;');
    this.addSql('drop index `organizations_code_unique`;');
    this.addSql('alter table `organizations` drop column `partner_access_removed_at`;');
    this.addSql('alter table `organizations` drop column `country`;');
    this.addSql('alter table `organizations` drop column `address`;');
    this.addSql('alter table `organizations` drop column `code`;');
  }
}
