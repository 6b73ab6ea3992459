import { Migration } from '@mikro-orm/migrations';

// PSA integrations (Autotask, ConnectWise): each customer account's company in the PSA, and the
// ticket each task's failures opened (its PSA id, the items failing, the last event acted on).
export class Migration20261207160000_psa_tickets extends Migration {
  override name = 'Migration20261207160000_psa_tickets';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`integration_companies\` (\`id\` text not null primary key, \`integration_id\` text not null, \`account_id\` text not null, \`company_id\` text not null, \`company_name\` text not null, \`updated_at\` datetime not null, constraint \`integration_companies_integration_id_foreign\` foreign key (\`integration_id\`) references \`integrations\` (\`id\`) on delete cascade, constraint \`integration_companies_account_id_foreign\` foreign key (\`account_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`integration_companies_integration_id_index\` on \`integration_companies\` (\`integration_id\`);`,
    );
    this.addSql(
      `create index \`integration_companies_account_id_index\` on \`integration_companies\` (\`account_id\`);`,
    );
    this.addSql(
      `create unique index \`integration_companies_integration_id_account_id_unique\` on \`integration_companies\` (\`integration_id\`, \`account_id\`);`,
    );
    this.addSql(
      `create table \`integration_tickets\` (\`id\` text not null primary key, \`integration_id\` text not null, \`account_id\` text not null, \`task_id\` text not null, \`ticket_id\` text null, \`company_id\` text null, \`failing\` json not null, \`last_event_id\` integer not null, \`opening_since\` datetime null, \`opened_at\` datetime null, \`closed_at\` datetime null, \`updated_at\` datetime not null, constraint \`integration_tickets_integration_id_foreign\` foreign key (\`integration_id\`) references \`integrations\` (\`id\`) on delete cascade, constraint \`integration_tickets_account_id_foreign\` foreign key (\`account_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`integration_tickets_integration_id_index\` on \`integration_tickets\` (\`integration_id\`);`,
    );
    this.addSql(`create index \`integration_tickets_account_id_index\` on \`integration_tickets\` (\`account_id\`);`);
    this.addSql(
      `create unique index \`integration_tickets_integration_id_account_id_task_id_unique\` on \`integration_tickets\` (\`integration_id\`, \`account_id\`, \`task_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`integration_tickets\`;`);
    this.addSql(`drop table if exists \`integration_companies\`;`);
  }
}
