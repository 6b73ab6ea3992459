import { Migration } from '@mikro-orm/migrations';

// Folded search keys (core/db/fold.ts) beside the catalog's names, paths and authors: "contains"
// filters compare them with the folded text typed. Existing rows are folded here by the
// holdfast_fold function the driver registers on its connections (the same code as the writers).
export class Migration20261207031006_catalog_fold_keys extends Migration {
  override name = 'Migration20261207031006_catalog_fold_keys';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`catalog_items\` add column \`name_key\` text not null default '';`);
    this.addSql(`alter table \`catalog_items\` add column \`path_key\` text not null default '';`);
    this.addSql(`alter table \`catalog_items\` add column \`author_key\` text null;`);

    this.addSql(`alter table \`catalog_versions\` add column \`author_key\` text null;`);
    this.addSql(
      'update `catalog_items` set `name_key` = holdfast_fold(`name`), `path_key` = holdfast_fold(`path`), `author_key` = holdfast_fold(`author`);',
    );
    this.addSql('update `catalog_versions` set `author_key` = holdfast_fold(`author`) where `author` is not null;');
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`catalog_items\` drop column \`name_key\`;`);
    this.addSql(`alter table \`catalog_items\` drop column \`path_key\`;`);
    this.addSql(`alter table \`catalog_items\` drop column \`author_key\`;`);

    this.addSql(`alter table \`catalog_versions\` drop column \`author_key\`;`);
  }
}
