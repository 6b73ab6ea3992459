import { Migration } from '@mikro-orm/migrations';

// The PostgreSQL twin of ../sqlite/Migration20261208013000_integration_invoice_check.ts: when a PSA
// integration last asked its PSA about the issued invoices.
export class Migration20261208013000_integration_invoice_check extends Migration {
  override name = 'Migration20261208013000_integration_invoice_check';

  override up(): void | Promise<void> {
    this.addSql(`alter table "integrations" add column "invoices_checked_at" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "integrations" drop column "invoices_checked_at";`);
  }
}
