import { Migration } from '@mikro-orm/migrations';

// The System Activity and Security audit filters offer only the values rows hold; these indexes
// let each value be found by a seek (core/event-log.ts) instead of reading every row of the log.
export class Migration20261207124358_event_log_facets extends Migration {
  override name = 'Migration20261207124358_event_log_facets';

  override up(): void | Promise<void> {
    this.addSql(
      `create index \`audit_events_activity_organization_id_index\` on \`audit_events\` (\`activity\`, \`organization_id\`);`,
    );
    this.addSql(
      `create index \`audit_events_status_organization_id_index\` on \`audit_events\` (\`status\`, \`organization_id\`);`,
    );
    this.addSql(
      `create index \`activity_events_activity_organization_id_index\` on \`activity_events\` (\`activity\`, \`organization_id\`);`,
    );
    this.addSql(
      `create index \`activity_events_service_organization_id_index\` on \`activity_events\` (\`service\`, \`organization_id\`);`,
    );
    this.addSql(
      `create index \`activity_events_status_organization_id_index\` on \`activity_events\` (\`status\`, \`organization_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`audit_events_activity_organization_id_index\`;`);
    this.addSql(`drop index \`audit_events_status_organization_id_index\`;`);
    this.addSql(`drop index \`activity_events_activity_organization_id_index\`;`);
    this.addSql(`drop index \`activity_events_service_organization_id_index\`;`);
    this.addSql(`drop index \`activity_events_status_organization_id_index\`;`);
  }
}
