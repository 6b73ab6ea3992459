import { Migration } from '@mikro-orm/migrations';

// Billing › Payment details (core/billing/payment-details.ts): who an organization's invoices are
// addressed to — contact name, postal address and tax id. Never card or bank data. An issued
// invoice keeps the parties as they were when it was issued (`invoices.parties`).
export class Migration20261207183620_billing_payment_details extends Migration {
  override name = 'Migration20261207183620_billing_payment_details';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`billing_accounts\` add column \`billing_name\` text null;`);
    this.addSql(`alter table \`billing_accounts\` add column \`billing_address\` text null;`);
    this.addSql(`alter table \`billing_accounts\` add column \`tax_id\` text null;`);
    this.addSql(`alter table \`invoices\` add column \`parties\` json null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`billing_accounts\` drop column \`billing_name\`;`);
    this.addSql(`alter table \`billing_accounts\` drop column \`billing_address\`;`);
    this.addSql(`alter table \`billing_accounts\` drop column \`tax_id\`;`);
    this.addSql(`alter table \`invoices\` drop column \`parties\`;`);
  }
}
