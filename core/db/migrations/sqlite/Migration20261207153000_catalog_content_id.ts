import { Migration } from '@mikro-orm/migrations';

// Each catalog version records the identity of its content (core/catalog/content-id.ts), so a
// restore drill compares what it restored with what the catalog says by content, not by size alone.
// Versions indexed before this have none (null) until the catalog is rebuilt.
export class Migration20261207153000_catalog_content_id extends Migration {
  override name = 'Migration20261207153000_catalog_content_id';

  override up(): void | Promise<void> {
    this.addSql('alter table `catalog_versions` add column `content_id` text null;');
  }

  override down(): void | Promise<void> {
    this.addSql('alter table `catalog_versions` drop column `content_id`;');
  }
}
