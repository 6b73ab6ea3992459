import { Migration } from '@mikro-orm/migrations';

export class Migration20261122040541_catalog extends Migration {
  override name = 'Migration20261122040541_catalog';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`catalog_repositories\` (\`id\` text not null primary key, \`location\` text not null, \`attached_at\` datetime not null, \`indexed_at\` datetime null);`,
    );

    this.addSql(
      `create table \`catalog_items\` (\`id\` integer not null primary key autoincrement, \`repository_id\` text not null, \`task\` text not null, \`entity\` text not null, \`key\` text not null, \`kind\` text not null, \`name\` text not null, \`path\` text not null, \`author\` text null, constraint \`catalog_items_repository_id_foreign\` foreign key (\`repository_id\`) references \`catalog_repositories\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`catalog_items_repository_id_index\` on \`catalog_items\` (\`repository_id\`);`);
    this.addSql(
      `create unique index \`catalog_items_repository_id_task_entity_key_unique\` on \`catalog_items\` (\`repository_id\`, \`task\`, \`entity\`, \`key\`);`,
    );

    this.addSql(
      `create table \`catalog_snapshots\` (\`id\` text not null primary key, \`repository_id\` text not null, \`task\` text not null, \`entity\` text not null, \`time\` datetime not null, \`parent\` text null, \`items\` integer not null, \`bytes\` double not null, constraint \`catalog_snapshots_repository_id_foreign\` foreign key (\`repository_id\`) references \`catalog_repositories\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`catalog_snapshots_repository_id_index\` on \`catalog_snapshots\` (\`repository_id\`);`);
    this.addSql(
      `create index \`catalog_snapshots_repository_id_task_entity_time_index\` on \`catalog_snapshots\` (\`repository_id\`, \`task\`, \`entity\`, \`time\`);`,
    );

    this.addSql(
      `create table \`catalog_versions\` (\`id\` integer not null primary key autoincrement, \`item_id\` integer not null, \`snapshot_id\` text not null, \`size\` double not null, \`modified\` datetime null, \`author\` text null, \`deleted\` integer not null, constraint \`catalog_versions_item_id_foreign\` foreign key (\`item_id\`) references \`catalog_items\` (\`id\`) on delete cascade, constraint \`catalog_versions_snapshot_id_foreign\` foreign key (\`snapshot_id\`) references \`catalog_snapshots\` (\`id\`) on delete cascade);`,
    );
    this.addSql(`create index \`catalog_versions_item_id_index\` on \`catalog_versions\` (\`item_id\`);`);
    this.addSql(`create index \`catalog_versions_snapshot_id_index\` on \`catalog_versions\` (\`snapshot_id\`);`);

    // Full-text search over item names, paths and authors (SQLite FTS5; rowid = catalog_items.id).
    // Kept by core/db/sqlite-catalog.ts, the one SQLite-specific adapter; not an ORM entity.
    this.addSql(
      `create virtual table \`catalog_items_fts\` using fts5(name, path, author, tokenize = 'unicode61 remove_diacritics 2');`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`catalog_items_fts\`;`);
    this.addSql(`drop table if exists \`catalog_repositories\`;`);
    this.addSql(`drop table if exists \`catalog_items\`;`);
    this.addSql(`drop table if exists \`catalog_snapshots\`;`);
    this.addSql(`drop table if exists \`catalog_versions\`;`);
  }
}
