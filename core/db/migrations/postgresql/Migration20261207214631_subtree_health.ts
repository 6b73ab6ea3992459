import { Migration } from '@mikro-orm/migrations';
import {
  ADD_MISSING_ROWS,
  healthChange,
  organizationAdded,
  organizationDeleted,
  organizationMoved,
  recountRows,
} from '../subtree-health-sql.ts';

// The PostgreSQL twin of ../sqlite/Migration20261207214631_subtree_health.ts: the same table and
// the same statements (../subtree-health-sql.ts) in PL/pgSQL trigger functions.
const TRIGGERS = [
  'subtree_health_account_insert',
  'subtree_health_account_update',
  'subtree_health_account_delete',
  'subtree_health_organization_insert',
  'subtree_health_organization_delete',
  'subtree_health_organization_move',
] as const;

export class Migration20261207214631_subtree_health extends Migration {
  override name = 'Migration20261207214631_subtree_health';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "subtree_health" ("organization_id" varchar(36) not null, "tasks" int not null default 0, "failed" int not null default 0, "partial" int not null default 0, "success" int not null default 0, "protected" int not null default 0, "bytes" double precision not null default 0, "stored_bytes" double precision not null default 0, "last_run_at" timestamptz null, "customers" int not null default 0, "customers_success" int not null default 0, "customers_partial" int not null default 0, "customers_failed" int not null default 0, primary key ("organization_id"));`,
    );
    this.addSql(
      `alter table "subtree_health" add constraint "subtree_health_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    const fn = (name: string, body: string, result: 'null' | 'OLD' = 'null') =>
      `create function ${name}() returns trigger language plpgsql as $$ begin
  ${body};
  return ${result};
end $$;`;
    this.addSql(fn('subtree_health_account_insert', healthChange('NEW', null)));
    this.addSql(
      `create trigger subtree_health_account_insert after insert on account_health for each row execute function subtree_health_account_insert();`,
    );
    this.addSql(fn('subtree_health_account_update', healthChange('NEW', 'OLD')));
    this.addSql(
      `create trigger subtree_health_account_update after update on account_health for each row execute function subtree_health_account_update();`,
    );
    // An account_health row deleted with its organization (cascade) was taken off before.
    this.addSql(
      fn(
        'subtree_health_account_delete',
        `if exists (select 1 from organizations o where o.id = OLD.organization_id) then
    ${healthChange(null, 'OLD')};
  end if`,
      ),
    );
    this.addSql(
      `create trigger subtree_health_account_delete after delete on account_health for each row execute function subtree_health_account_delete();`,
    );
    this.addSql(fn('subtree_health_organization_insert', organizationAdded().join(';\n  ')));
    this.addSql(
      `create trigger subtree_health_organization_insert after insert on organizations for each row execute function subtree_health_organization_insert();`,
    );
    this.addSql(fn('subtree_health_organization_delete', organizationDeleted(), 'OLD'));
    this.addSql(
      `create trigger subtree_health_organization_delete before delete on organizations for each row execute function subtree_health_organization_delete();`,
    );
    this.addSql(fn('subtree_health_organization_move', organizationMoved()));
    this.addSql(
      `create trigger subtree_health_organization_move after update of path, kind on organizations for each row when (OLD.path is distinct from NEW.path or OLD.kind is distinct from NEW.kind) execute function subtree_health_organization_move();`,
    );
    this.addSql(`${ADD_MISSING_ROWS};`);
    this.addSql(`${recountRows(true)};`);
  }

  override down(): void | Promise<void> {
    for (const name of TRIGGERS) {
      this.addSql(
        `drop trigger if exists ${name} on ${name.includes('account') ? 'account_health' : 'organizations'};`,
      );
      this.addSql(`drop function if exists ${name}();`);
    }
    this.addSql(`drop table if exists "subtree_health" cascade;`);
  }
}
