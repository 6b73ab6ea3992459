import { Migration } from '@mikro-orm/migrations';

// Billing › Payment details: the PostgreSQL twin of ../sqlite/Migration20261207183620_billing_payment_details.ts.
export class Migration20261207183620_billing_payment_details extends Migration {
  override name = 'Migration20261207183620_billing_payment_details';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "billing_accounts" add column "billing_name" varchar(200) null, add column "billing_address" varchar(1000) null, add column "tax_id" varchar(64) null;`,
    );
    this.addSql(`alter table "invoices" add column "parties" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table "billing_accounts" drop column "billing_name", drop column "billing_address", drop column "tax_id";`,
    );
    this.addSql(`alter table "invoices" drop column "parties";`);
  }
}
