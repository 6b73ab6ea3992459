import { Migration } from '@mikro-orm/migrations';

// The PostgreSQL twin of ../sqlite/Migration20261207193547_psa_note_marker.ts: the marker of a
// PSA note awaiting the PSA's answer.
export class Migration20261207193547_psa_note_marker extends Migration {
  override name = 'Migration20261207193547_psa_note_marker';

  override up(): void | Promise<void> {
    this.addSql(`alter table "integration_tickets" add column "noting" varchar(100) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "integration_tickets" drop column "noting";`);
  }
}
