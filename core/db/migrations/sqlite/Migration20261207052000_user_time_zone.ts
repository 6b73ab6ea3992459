import { Migration } from '@mikro-orm/migrations';

// Each user may choose the time zone dates are shown in; null keeps the browser's own.
export class Migration20261207052000_user_time_zone extends Migration {
  override name = 'Migration20261207052000_user_time_zone';

  override up(): void | Promise<void> {
    this.addSql('alter table `users` add column `time_zone` text null;');
  }

  override down(): void | Promise<void> {
    this.addSql('alter table `users` drop column `time_zone`;');
  }
}
