import { Migration } from '@mikro-orm/migrations';

// Notifications: recipients per organization, the notification events (unique by event key),
// open incidents, and the retry state of queued mail in mail_messages.
export class Migration20261207054500_notifications extends Migration {
  override name = 'Migration20261207054500_notifications';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`notification_recipients\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`email\` text not null, \`email_key\` text not null, \`display_name\` text not null, \`types\` json not null, \`created_at\` datetime not null, constraint \`notification_recipients_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`notification_recipients_organization_id_index\` on \`notification_recipients\` (\`organization_id\`);`,
    );
    this.addSql(
      `create unique index \`notification_recipients_organization_id_email_key_unique\` on \`notification_recipients\` (\`organization_id\`, \`email_key\`);`,
    );
    this.addSql(
      `create table \`notification_incidents\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`subject\` text not null, \`sequence\` integer not null default 0, \`opened_at\` datetime null, \`failing\` json not null, constraint \`notification_incidents_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`notification_incidents_organization_id_index\` on \`notification_incidents\` (\`organization_id\`);`,
    );
    this.addSql(
      `create unique index \`notification_incidents_subject_unique\` on \`notification_incidents\` (\`subject\`);`,
    );
    this.addSql(
      `create table \`notifications\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`type\` text check (\`type\` in ('summary', 'recovery', 'exceptions', 'discovery', 'smart_alerts')) not null, \`event_key\` text not null, \`payload\` json not null, \`created_at\` datetime not null, \`fanned_out_at\` datetime null, constraint \`notifications_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`notifications_organization_id_index\` on \`notifications\` (\`organization_id\`);`);
    this.addSql(`create unique index \`notifications_event_key_unique\` on \`notifications\` (\`event_key\`);`);
    this.addSql(`create index \`notifications_fanned_out_at_index\` on \`notifications\` (\`fanned_out_at\`);`);
    this.addSql(`alter table \`mail_messages\` add column \`html\` text null;`);
    this.addSql(
      `alter table \`mail_messages\` add column \`organization_id\` text null constraint \`mail_messages_organization_id_foreign\` references \`organizations\` (\`id\`) on delete cascade;`,
    );
    this.addSql(
      `alter table \`mail_messages\` add column \`notification_id\` integer null constraint \`mail_messages_notification_id_foreign\` references \`notifications\` (\`id\`) on delete cascade;`,
    );
    this.addSql(`alter table \`mail_messages\` add column \`attempts\` integer not null default 0;`);
    this.addSql(`alter table \`mail_messages\` add column \`next_attempt_at\` datetime null;`);
    this.addSql(`create index \`mail_messages_organization_id_index\` on \`mail_messages\` (\`organization_id\`);`);
    this.addSql(`create index \`mail_messages_notification_id_index\` on \`mail_messages\` (\`notification_id\`);`);
    this.addSql(`create index \`mail_messages_next_attempt_at_index\` on \`mail_messages\` (\`next_attempt_at\`);`);
    this.addSql(
      `create unique index \`mail_messages_notification_id_to_unique\` on \`mail_messages\` (\`notification_id\`, \`to\`);`,
    );
  }

  override down(): void | Promise<void> {
    // SQLite cannot drop a column that is a foreign key without rebuilding the table: the two
    // reference columns stay (null for older mail); the rest is removed.
    this.addSql(`drop index \`mail_messages_notification_id_to_unique\`;`);
    this.addSql(`drop index \`mail_messages_next_attempt_at_index\`;`);
    this.addSql(`drop index \`mail_messages_notification_id_index\`;`);
    this.addSql(`drop index \`mail_messages_organization_id_index\`;`);
    this.addSql(`alter table \`mail_messages\` drop column \`next_attempt_at\`;`);
    this.addSql(`alter table \`mail_messages\` drop column \`attempts\`;`);
    this.addSql(`alter table \`mail_messages\` drop column \`html\`;`);
    this.addSql(`update \`mail_messages\` set \`notification_id\` = null, \`organization_id\` = null;`);
    this.addSql(`drop table if exists \`notifications\`;`);
    this.addSql(`drop table if exists \`notification_incidents\`;`);
    this.addSql(`drop table if exists \`notification_recipients\`;`);
  }
}
