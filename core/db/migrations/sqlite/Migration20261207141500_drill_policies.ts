import { Migration } from '@mikro-orm/migrations';

// Restore drill policy per organization (core/drills/drill-policy.ts).
export class Migration20261207141500_drill_policies extends Migration {
  override name = 'Migration20261207141500_drill_policies';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`drill_policies\` (\`id\` integer not null primary key autoincrement, \`organization_id\` text not null, \`interval_days\` integer not null, \`updated_at\` datetime not null, constraint \`drill_policies_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`drill_policies_organization_id_index\` on \`drill_policies\` (\`organization_id\`);`);
    this.addSql(
      `create unique index \`drill_policies_organization_id_unique\` on \`drill_policies\` (\`organization_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`drill_policies\`;`);
  }
}
