import { Migration } from '@mikro-orm/migrations';

// When a PSA integration last asked its PSA about the issued invoices: kept with the integration,
// so the hourly check stays hourly when several nodes take turns running the integration sender.
export class Migration20261208013000_integration_invoice_check extends Migration {
  override name = 'Migration20261208013000_integration_invoice_check';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`integrations\` add column \`invoices_checked_at\` datetime null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`integrations\` drop column \`invoices_checked_at\`;`);
  }
}
