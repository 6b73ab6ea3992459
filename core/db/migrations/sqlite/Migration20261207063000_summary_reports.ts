import { Migration } from '@mikro-orm/migrations';

// The summary report: settings per organization, and each report made (its CSV and link token).
export class Migration20261207063000_summary_reports extends Migration {
  override name = 'Migration20261207063000_summary_reports';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`summary_report_settings\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`enabled\` integer not null default true, \`format\` text check (\`format\` in ('overview', 'failures')) not null default 'overview', \`delivery\` text check (\`delivery\` in ('attachment', 'link')) not null default 'attachment', \`frequency\` text check (\`frequency\` in ('daily', 'weekly', 'monthly')) not null default 'daily', \`hour\` integer not null default 7, \`time_zone\` text not null default 'UTC', \`only_when_failed\` integer not null default false, \`split\` text check (\`split\` in ('consolidated', 'per_customer')) not null default 'consolidated', \`last_period\` text null, \`updated_at\` datetime not null, constraint \`summary_report_settings_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create unique index \`summary_report_settings_organization_id_unique\` on \`summary_report_settings\` (\`organization_id\`);`,
    );
    this.addSql(
      `create index \`summary_report_settings_organization_id_index\` on \`summary_report_settings\` (\`organization_id\`);`,
    );
    this.addSql(
      `create table \`summary_reports\` (\`id\` text not null, \`organization_id\` text not null, \`period\` text not null, \`file_name\` text not null, \`csv\` text not null, \`token_hash\` text not null, \`created_at\` datetime not null, \`expires_at\` datetime not null, constraint \`summary_reports_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`summary_reports_organization_id_index\` on \`summary_reports\` (\`organization_id\`);`);
    this.addSql(`create index \`summary_reports_expires_at_index\` on \`summary_reports\` (\`expires_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql('drop table if exists `summary_reports`;');
    this.addSql('drop table if exists `summary_report_settings`;');
  }
}
