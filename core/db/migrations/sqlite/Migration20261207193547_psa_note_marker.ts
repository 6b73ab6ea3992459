import { Migration } from '@mikro-orm/migrations';

// A PSA ticket's note being posted: its marker, kept until the PSA answers, so a note whose
// answer was lost is looked for in the ticket instead of being posted twice.
export class Migration20261207193547_psa_note_marker extends Migration {
  override name = 'Migration20261207193547_psa_note_marker';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`integration_tickets\` add column \`noting\` text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`integration_tickets\` drop column \`noting\`;`);
  }
}
