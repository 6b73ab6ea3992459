import { Migration } from '@mikro-orm/migrations';

// Items refer to their (repository, task, entity) by a small integer scope id instead of
// repeating the three strings in every row and in the unique index (the catalog's hottest
// write path); the full-text index reads its text from catalog_items (external content) instead
// of keeping a second copy, and keeps no per-document sizes (search orders by id, never by rank).
// Existing rows are carried over: tables are rebuilt, as SQLite cannot drop a foreign-key column.
const FTS_OPTIONS = `content = 'catalog_items', content_rowid = 'id', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2'`;

export class Migration20261122060439_catalog_scopes extends Migration {
  override name = 'Migration20261122060439_catalog_scopes';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`catalog_scopes\` (\`id\` integer not null primary key autoincrement, \`repository_id\` text not null, \`task\` text not null, \`entity\` text not null, constraint \`catalog_scopes_repository_id_foreign\` foreign key (\`repository_id\`) references \`catalog_repositories\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `create unique index \`catalog_scopes_repository_id_task_entity_unique\` on \`catalog_scopes\` (\`repository_id\`, \`task\`, \`entity\`);`,
    );
    this.addSql(
      `insert into \`catalog_scopes\` (\`repository_id\`, \`task\`, \`entity\`) select distinct \`repository_id\`, \`task\`, \`entity\` from \`catalog_items\`;`,
    );

    this.addSql(
      `create table \`catalog_items_next\` (\`id\` integer not null primary key autoincrement, \`scope_id\` integer not null, \`key\` text not null, \`kind\` text not null, \`name\` text not null, \`path\` text not null, \`author\` text null, constraint \`catalog_items_scope_id_foreign\` foreign key (\`scope_id\`) references \`catalog_scopes\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `insert into \`catalog_items_next\` (\`id\`, \`scope_id\`, \`key\`, \`kind\`, \`name\`, \`path\`, \`author\`) select i.\`id\`, s.\`id\`, i.\`key\`, i.\`kind\`, i.\`name\`, i.\`path\`, i.\`author\` from \`catalog_items\` i join \`catalog_scopes\` s on s.\`repository_id\` = i.\`repository_id\` and s.\`task\` = i.\`task\` and s.\`entity\` = i.\`entity\`;`,
    );
    this.#rebuildVersions('catalog_items_next');
    this.addSql(`drop table \`catalog_items\`;`);
    this.addSql(`alter table \`catalog_items_next\` rename to \`catalog_items\`;`);
    this.addSql(
      `create unique index \`catalog_items_scope_id_key_unique\` on \`catalog_items\` (\`scope_id\`, \`key\`);`,
    );

    this.addSql(`drop table \`catalog_items_fts\`;`);
    this.addSql(`create virtual table \`catalog_items_fts\` using fts5(name, path, author, ${FTS_OPTIONS});`);
    this.addSql(`insert into \`catalog_items_fts\` (\`catalog_items_fts\`) values ('rebuild');`);
  }

  override down(): void | Promise<void> {
    this.addSql(
      `create table \`catalog_items_next\` (\`id\` integer not null primary key autoincrement, \`repository_id\` text not null, \`task\` text not null, \`entity\` text not null, \`key\` text not null, \`kind\` text not null, \`name\` text not null, \`path\` text not null, \`author\` text null, constraint \`catalog_items_repository_id_foreign\` foreign key (\`repository_id\`) references \`catalog_repositories\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `insert into \`catalog_items_next\` (\`id\`, \`repository_id\`, \`task\`, \`entity\`, \`key\`, \`kind\`, \`name\`, \`path\`, \`author\`) select i.\`id\`, s.\`repository_id\`, s.\`task\`, s.\`entity\`, i.\`key\`, i.\`kind\`, i.\`name\`, i.\`path\`, i.\`author\` from \`catalog_items\` i join \`catalog_scopes\` s on s.\`id\` = i.\`scope_id\`;`,
    );
    this.#rebuildVersions('catalog_items_next');
    this.addSql(`drop table \`catalog_items_fts\`;`);
    this.addSql(`drop table \`catalog_items\`;`);
    this.addSql(`alter table \`catalog_items_next\` rename to \`catalog_items\`;`);
    this.addSql(`create index \`catalog_items_repository_id_index\` on \`catalog_items\` (\`repository_id\`);`);
    this.addSql(
      `create unique index \`catalog_items_repository_id_task_entity_key_unique\` on \`catalog_items\` (\`repository_id\`, \`task\`, \`entity\`, \`key\`);`,
    );
    this.addSql(`drop table \`catalog_scopes\`;`);
    this.addSql(
      `create virtual table \`catalog_items_fts\` using fts5(name, path, author, tokenize = 'unicode61 remove_diacritics 2');`,
    );
    this.addSql(
      `insert into \`catalog_items_fts\` (rowid, name, path, author) select \`id\`, \`name\`, \`path\`, coalesce(\`author\`, '') from \`catalog_items\`;`,
    );
  }

  /**
   * Versions move to a copy that refers to `items` (renamed to catalog_items afterwards, which
   * SQLite follows in the foreign key); the old table goes first so dropping the old items table
   * cascades into nothing.
   */
  #rebuildVersions(items: string): void {
    this.addSql(
      `create table \`catalog_versions_next\` (\`id\` integer not null primary key autoincrement, \`item_id\` integer not null, \`snapshot_id\` text not null, \`size\` double not null, \`modified\` datetime null, \`author\` text null, \`deleted\` integer not null, constraint \`catalog_versions_item_id_foreign\` foreign key (\`item_id\`) references \`${items}\` (\`id\`) on delete cascade, constraint \`catalog_versions_snapshot_id_foreign\` foreign key (\`snapshot_id\`) references \`catalog_snapshots\` (\`id\`) on delete cascade);`,
    );
    this.addSql(
      `insert into \`catalog_versions_next\` (\`id\`, \`item_id\`, \`snapshot_id\`, \`size\`, \`modified\`, \`author\`, \`deleted\`) select \`id\`, \`item_id\`, \`snapshot_id\`, \`size\`, \`modified\`, \`author\`, \`deleted\` from \`catalog_versions\`;`,
    );
    this.addSql(`drop table \`catalog_versions\`;`);
    this.addSql(`alter table \`catalog_versions_next\` rename to \`catalog_versions\`;`);
    this.addSql(`create index \`catalog_versions_item_id_index\` on \`catalog_versions\` (\`item_id\`);`);
    this.addSql(`create index \`catalog_versions_snapshot_id_index\` on \`catalog_versions\` (\`snapshot_id\`);`);
  }
}
