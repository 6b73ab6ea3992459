import { Migration } from '@mikro-orm/migrations';

// Webhooks: endpoints per organization (secret sealed), events waiting for fan-out (unique by
// event key) and one delivery per (endpoint, event) with its retry state and last answer.
export class Migration20261207062245_webhooks extends Migration {
  override name = 'Migration20261207062245_webhooks';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`webhook_endpoints\` (\`id\` text not null primary key, \`organization_id\` text not null, \`url\` text not null, \`description\` text not null, \`events\` json not null, \`secret_sealed\` text not null, \`created_at\` datetime not null, constraint \`webhook_endpoints_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`webhook_endpoints_organization_id_index\` on \`webhook_endpoints\` (\`organization_id\`);`,
    );
    this.addSql(
      `create table \`webhook_deliveries\` (\`id\` integer not null primary key autoincrement, \`endpoint_id\` text not null, \`event_key\` text not null, \`type\` text not null, \`body\` text not null, \`created_at\` datetime not null, \`status\` text check (\`status\` in ('pending', 'delivered', 'failed')) not null, \`attempts\` integer not null default 0, \`next_attempt_at\` datetime null, \`delivered_at\` datetime null, \`last_status\` integer null, \`last_response\` text null, \`last_attempt_at\` datetime null, constraint \`webhook_deliveries_endpoint_id_foreign\` foreign key (\`endpoint_id\`) references \`webhook_endpoints\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`webhook_deliveries_endpoint_id_index\` on \`webhook_deliveries\` (\`endpoint_id\`);`);
    this.addSql(
      `create index \`webhook_deliveries_next_attempt_at_index\` on \`webhook_deliveries\` (\`next_attempt_at\`);`,
    );
    this.addSql(
      `create unique index \`webhook_deliveries_endpoint_id_event_key_unique\` on \`webhook_deliveries\` (\`endpoint_id\`, \`event_key\`);`,
    );
    this.addSql(
      `create table \`webhook_events\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`type\` text not null, \`event_key\` text not null, \`payload\` json not null, \`created_at\` datetime not null, \`fanned_out_at\` datetime null, constraint \`webhook_events_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`webhook_events_organization_id_index\` on \`webhook_events\` (\`organization_id\`);`);
    this.addSql(`create unique index \`webhook_events_event_key_unique\` on \`webhook_events\` (\`event_key\`);`);
    this.addSql(`create index \`webhook_events_fanned_out_at_index\` on \`webhook_events\` (\`fanned_out_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`webhook_events\`;`);
    this.addSql(`drop table if exists \`webhook_deliveries\`;`);
    this.addSql(`drop table if exists \`webhook_endpoints\`;`);
  }
}
