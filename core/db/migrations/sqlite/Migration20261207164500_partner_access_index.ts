import { Migration } from '@mikro-orm/migrations';

// Whether any customer removed its partners' access is asked several times on every System
// Activity and Security audit page (core/access/principal.ts, reachesEveryOrganization): an
// index answers it without reading every organization.
export class Migration20261207164500_partner_access_index extends Migration {
  override name = 'Migration20261207164500_partner_access_index';

  override up(): void | Promise<void> {
    this.addSql(
      `create index \`organizations_partner_access_removed_at_index\` on \`organizations\` (\`partner_access_removed_at\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`organizations_partner_access_removed_at_index\`;`);
  }
}
