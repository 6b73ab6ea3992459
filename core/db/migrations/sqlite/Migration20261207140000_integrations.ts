import { Migration } from '@mikro-orm/migrations';

// Integrations: per organization, a kind (Splunk …), its settings, its sealed secret, the
// events it sends, the cursor of the System Activity and Security audit it delivered up to, and
// its delivery state (claim version and lease, retries, Failing since, last error).
export class Migration20261207140000_integrations extends Migration {
  override name = 'Migration20261207140000_integrations';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`integrations\` (\`id\` text not null primary key, \`organization_id\` text not null, \`kind\` text not null, \`enabled\` integer not null default true, \`settings\` json not null, \`secret_sealed\` text null, \`streams\` json not null, \`cursor\` json not null, \`pending_ack\` json null, \`version\` integer not null default 0, \`lease_until\` datetime null, \`attempts\` integer not null default 0, \`next_attempt_at\` datetime null, \`failing_since\` datetime null, \`last_error\` text null, \`last_delivered_at\` datetime null, \`delivered_count\` integer not null default 0, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`integrations_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`integrations_organization_id_index\` on \`integrations\` (\`organization_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`integrations\`;`);
  }
}
