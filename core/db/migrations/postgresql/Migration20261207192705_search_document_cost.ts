import { Migration } from '@mikro-orm/migrations';

// The catalog's search document (holdfast_search_document: folding and two regular expressions
// per column) costs about 0.1 ms a row, yet a SQL function is planned at 100 operator costs, as
// cheap as a comparison: after a bulk load the planner chose a sequential scan computing it on
// every item, and a backward scan of the primary key for a rare word (seconds at 20,000 items).
// Declared at its real order of magnitude, the GIN index is chosen (core/db/postgres-catalog.ts,
// bench/catalog.ts). PostgreSQL only: SQLite's FTS5 table has no such function.
export class Migration20261207192705_search_document_cost extends Migration {
  override name = 'Migration20261207192705_search_document_cost';

  override up(): void | Promise<void> {
    this.addSql('alter function holdfast_search_words(text) cost 10000;');
    this.addSql('alter function holdfast_search_document(text, text, text) cost 100000;');
  }

  override down(): void | Promise<void> {
    this.addSql('alter function holdfast_search_words(text) cost 100;');
    this.addSql('alter function holdfast_search_document(text, text, text) cost 100;');
  }
}
