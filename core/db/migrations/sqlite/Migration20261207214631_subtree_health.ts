import { Migration } from '@mikro-orm/migrations';
import {
  ADD_MISSING_ROWS,
  healthChange,
  organizationAdded,
  organizationDeleted,
  organizationMoved,
  recountRows,
} from '../subtree-health-sql.ts';

// Backup health per organization subtree (core/tenancy/entities.ts, SubtreeHealth), kept by
// triggers on account_health and organizations (../subtree-health-sql.ts says what each one
// does) and counted here once for the existing rows. The portal's tiles and roll-ups read one
// row per account instead of summing every account below it.
export class Migration20261207214631_subtree_health extends Migration {
  override name = 'Migration20261207214631_subtree_health';

  override up(): void | Promise<void> {
    this.addSql(
      'create table `subtree_health` (`organization_id` text not null primary key, `tasks` integer not null default 0, `failed` integer not null default 0, `partial` integer not null default 0, `success` integer not null default 0, `protected` integer not null default 0, `bytes` double not null default 0, `stored_bytes` double not null default 0, `last_run_at` datetime null, `customers` integer not null default 0, `customers_success` integer not null default 0, `customers_partial` integer not null default 0, `customers_failed` integer not null default 0, constraint `subtree_health_organization_id_foreign` foreign key (`organization_id`) references `organizations` (`id`) on update cascade on delete cascade);',
    );
    this.addSql(`create trigger subtree_health_account_insert after insert on account_health begin
  ${healthChange('NEW', null)};
end;`);
    this.addSql(`create trigger subtree_health_account_update after update on account_health begin
  ${healthChange('NEW', 'OLD')};
end;`);
    // An account_health row deleted with its organization (cascade) was taken off before.
    this.addSql(`create trigger subtree_health_account_delete after delete on account_health
  when exists (select 1 from organizations o where o.id = OLD.organization_id) begin
  ${healthChange(null, 'OLD')};
end;`);
    this.addSql(`create trigger subtree_health_organization_insert after insert on organizations begin
  ${organizationAdded().join(';\n  ')};
end;`);
    this.addSql(`create trigger subtree_health_organization_delete before delete on organizations begin
  ${organizationDeleted()};
end;`);
    this.addSql(`create trigger subtree_health_organization_move after update of path, kind on organizations
  when OLD.path <> NEW.path or OLD.kind <> NEW.kind begin
  ${organizationMoved()};
end;`);
    this.addSql(`${ADD_MISSING_ROWS};`);
    this.addSql(`${recountRows(true)};`);
  }

  override down(): void | Promise<void> {
    for (const trigger of [
      'subtree_health_account_insert',
      'subtree_health_account_update',
      'subtree_health_account_delete',
      'subtree_health_organization_insert',
      'subtree_health_organization_delete',
      'subtree_health_organization_move',
    ]) {
      this.addSql(`drop trigger if exists ${trigger};`);
    }
    this.addSql('drop table if exists `subtree_health`;');
  }
}
