import { Migration } from '@mikro-orm/migrations';

// The PostgreSQL twin of ../sqlite/Migration20261207215001_cluster_leases.ts, and the commit-order
// guard of the event logs the integrations read by id (core/integrations/event-feed.ts): a
// statement that inserts into activity_events or audit_events first takes a shared advisory lock
// for the rest of its transaction, before the row's id is drawn from the sequence. The integration
// sender takes the lock exclusively for a moment before it reads: every id drawn by then belongs
// to a committed (or rolled back) row, so "after the cursor, up to the newest id seen then" never
// skips a row that commits later with a lower id. The key is EVENT_LOG_LOCK_KEY ("HFev").
export class Migration20261207215001_cluster_leases extends Migration {
  override name = 'Migration20261207215001_cluster_leases';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "cluster_leases" ("name" varchar(100) not null, "owner" varchar(100) null, "expires_at" timestamptz not null, "mark" varchar(200) null, constraint "cluster_leases_pkey" primary key ("name"));`,
    );
    this.addSql(
      `create function "holdfast_event_log_insert"() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock_shared(1212573046); return null; end $$;`,
    );
    this.addSql(
      `create trigger "activity_events_commit_order" before insert on "activity_events" for each statement execute function "holdfast_event_log_insert"();`,
    );
    this.addSql(
      `create trigger "audit_events_commit_order" before insert on "audit_events" for each statement execute function "holdfast_event_log_insert"();`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger if exists "audit_events_commit_order" on "audit_events";`);
    this.addSql(`drop trigger if exists "activity_events_commit_order" on "activity_events";`);
    this.addSql(`drop function if exists "holdfast_event_log_insert"();`);
    this.addSql(`drop table if exists "cluster_leases";`);
  }
}
