import { Migration } from '@mikro-orm/migrations';

// Who last changed an item (the service's `editor` search field, e.g. a record's last modifier),
// per version with its folded key for "contains" filters. Existing versions have none: their
// service filled no such column before, and a reindex fills it from the repository.

export class Migration20261207051337_catalog_editor extends Migration {
  override name = 'Migration20261207051337_catalog_editor';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`catalog_versions\` add column \`editor\` text null;`);
    this.addSql(`alter table \`catalog_versions\` add column \`editor_key\` text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`catalog_versions\` drop column \`editor\`;`);
    this.addSql(`alter table \`catalog_versions\` drop column \`editor_key\`;`);
  }
}
