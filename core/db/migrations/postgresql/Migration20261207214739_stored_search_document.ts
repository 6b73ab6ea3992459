import { Migration } from '@mikro-orm/migrations';

// The catalog's search document stored in the row (a generated column) and indexed as it is: the
// GIN index over the expression made every check of a candidate row compute the document again
// (folding and two regular expressions per column, ~0.1 ms a row), so a plan that filtered rows
// instead of probing the index cost seconds at 1M items. Stored, a check is a tsvector lookup,
// and ANALYZE keeps the column's word statistics, which the planner's estimates need
// (core/db/postgres-catalog.ts, bench/catalog.ts). PostgreSQL only: SQLite's FTS5 table has its own.
export class Migration20261207214739_stored_search_document extends Migration {
  override name = 'Migration20261207214739_stored_search_document';

  override up(): void | Promise<void> {
    this.addSql('drop index if exists catalog_items_search_index;');
    this.addSql(
      'alter table catalog_items add column search_document tsvector generated always as (holdfast_search_document(name, path, author)) stored;',
    );
    this.addSql('create index catalog_items_search_index on catalog_items using gin (search_document);');
    this.addSql('analyze catalog_items;');
  }

  override down(): void | Promise<void> {
    this.addSql('drop index if exists catalog_items_search_index;');
    this.addSql('alter table catalog_items drop column search_document;');
    this.addSql(
      'create index catalog_items_search_index on catalog_items using gin (holdfast_search_document(name, path, author));',
    );
  }
}
