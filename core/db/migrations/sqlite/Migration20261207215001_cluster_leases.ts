import { Migration } from '@mikro-orm/migrations';

// Named leases on background work one node of a cluster does at a time (core/scheduler/singleton.ts).
// Used on PostgreSQL; the table exists here too so both drivers keep one schema.
export class Migration20261207215001_cluster_leases extends Migration {
  override name = 'Migration20261207215001_cluster_leases';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`cluster_leases\` (\`name\` text not null, \`owner\` text null, \`expires_at\` datetime not null, \`mark\` text null, primary key (\`name\`));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`cluster_leases\`;`);
  }
}
