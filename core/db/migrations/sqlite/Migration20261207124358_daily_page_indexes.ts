import { Migration } from '@mikro-orm/migrations';

// Indexes of the pages an MSP opens daily (issue 20). The System Activity and Security audit
// filters offer only the values rows hold: each value is found by a seek (core/event-log.ts)
// instead of reading every row of the log; by (value, time), a page filtered by one of them
// reads its newest rows in order. The portal's roll-up and tiles read a subtree's
// accounts (path range, kind, id) from an index alone (core/tenancy/account-health.ts).
export class Migration20261207124358_daily_page_indexes extends Migration {
  override name = 'Migration20261207124358_daily_page_indexes';

  override up(): void | Promise<void> {
    this.addSql(`create index \`organizations_path_kind_id_index\` on \`organizations\` (\`path\`, \`kind\`, \`id\`);`);
    this.addSql(`create index \`audit_events_activity_at_index\` on \`audit_events\` (\`activity\`, \`at\`);`);
    this.addSql(`create index \`audit_events_status_at_index\` on \`audit_events\` (\`status\`, \`at\`);`);
    this.addSql(`create index \`activity_events_activity_at_index\` on \`activity_events\` (\`activity\`, \`at\`);`);
    this.addSql(`create index \`activity_events_service_at_index\` on \`activity_events\` (\`service\`, \`at\`);`);
    this.addSql(`create index \`activity_events_status_at_index\` on \`activity_events\` (\`status\`, \`at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`organizations_path_kind_id_index\`;`);
    this.addSql(`drop index \`audit_events_activity_at_index\`;`);
    this.addSql(`drop index \`audit_events_status_at_index\`;`);
    this.addSql(`drop index \`activity_events_activity_at_index\`;`);
    this.addSql(`drop index \`activity_events_service_at_index\`;`);
    this.addSql(`drop index \`activity_events_status_at_index\`;`);
  }
}
