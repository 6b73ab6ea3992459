import { Migration } from '@mikro-orm/migrations';

// Snapshots marked damaged by a scheduled verification (core/catalog/entities.ts CatalogSnapshotDamage).
export class Migration20261207140000_snapshot_damage extends Migration {
  override name = 'Migration20261207140000_snapshot_damage';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`catalog_snapshot_damage\` (\`id\` integer not null primary key autoincrement, \`snapshot_id\` text not null, \`items\` json not null, \`ranges\` json not null, \`found_at\` datetime not null, constraint \`catalog_snapshot_damage_snapshot_id_foreign\` foreign key (\`snapshot_id\`) references \`catalog_snapshots\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create index \`catalog_snapshot_damage_snapshot_id_index\` on \`catalog_snapshot_damage\` (\`snapshot_id\`);`,
    );
    this.addSql(
      `create unique index \`catalog_snapshot_damage_snapshot_id_unique\` on \`catalog_snapshot_damage\` (\`snapshot_id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`catalog_snapshot_damage\`;`);
  }
}
