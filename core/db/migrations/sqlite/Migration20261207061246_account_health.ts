import { Migration } from '@mikro-orm/migrations';

// Backup health per organization (core/tenancy/entities.ts), kept by triggers: each entity's
// contribution (its last-run result, active or not, logical bytes, last run) is added when it is
// inserted, replaced by its new one when it changes and taken away when it or its task is deleted
// (soft or hard); a restored task adds its entities back. Existing rows are counted once here.
// Nothing is written for an organization being deleted (its tasks go with it by cascade).
export class Migration20261207061246_account_health extends Migration {
  override name = 'Migration20261207061246_account_health';

  override up(): void | Promise<void> {
    this.addSql('alter table `task_entities` add column `stored_bytes` double not null default 0;');
    this.addSql(
      `create table \`account_health\` (\`organization_id\` text not null primary key, \`tasks\` integer not null default 0, \`failed\` integer not null default 0, \`partial\` integer not null default 0, \`success\` integer not null default 0, \`protected\` integer not null default 0, \`bytes\` double not null default 0, \`stored_bytes\` double not null default 0, \`last_run_at\` datetime null, constraint \`account_health_organization_id_foreign\` foreign key (\`organization_id\`) references \`organizations\` (\`id\`) on update cascade on delete cascade);`,
    );
    this.addSql(`create trigger account_health_entity_insert after insert on task_entities when NEW.deleted_at is null begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select t.organization_id, 0, case when NEW.deleted_at is null and NEW.status = 'failed' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'partial' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'success' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end, case when NEW.deleted_at is null then NEW.last_bytes else 0 end, case when NEW.deleted_at is null then NEW.stored_bytes else 0 end, NEW.last_run_at
  from backup_tasks t where t.id = NEW.task_id and t.deleted_at is null
    and exists (select 1 from organizations o where o.id = t.organization_id)
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`create trigger account_health_entity_update after update of status, last_bytes, stored_bytes, last_run_at, deleted_at on task_entities begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select t.organization_id, 0, case when NEW.deleted_at is null and NEW.status = 'failed' then 1 else 0 end - case when OLD.deleted_at is null and OLD.status = 'failed' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'partial' then 1 else 0 end - case when OLD.deleted_at is null and OLD.status = 'partial' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status = 'success' then 1 else 0 end - case when OLD.deleted_at is null and OLD.status = 'success' then 1 else 0 end, case when NEW.deleted_at is null and NEW.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end - case when OLD.deleted_at is null and OLD.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end, case when NEW.deleted_at is null then NEW.last_bytes else 0 end - case when OLD.deleted_at is null then OLD.last_bytes else 0 end, case when NEW.deleted_at is null then NEW.stored_bytes else 0 end - case when OLD.deleted_at is null then OLD.stored_bytes else 0 end,
    case when NEW.deleted_at is null then NEW.last_run_at end
  from backup_tasks t where t.id = NEW.task_id and t.deleted_at is null
    and exists (select 1 from organizations o where o.id = t.organization_id)
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`create trigger account_health_entity_delete after delete on task_entities when OLD.deleted_at is null begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select t.organization_id, 0, -case when OLD.deleted_at is null and OLD.status = 'failed' then 1 else 0 end, -case when OLD.deleted_at is null and OLD.status = 'partial' then 1 else 0 end, -case when OLD.deleted_at is null and OLD.status = 'success' then 1 else 0 end, -case when OLD.deleted_at is null and OLD.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end, -case when OLD.deleted_at is null then OLD.last_bytes else 0 end, -case when OLD.deleted_at is null then OLD.stored_bytes else 0 end, null
  from backup_tasks t where t.id = OLD.task_id and t.deleted_at is null
    and exists (select 1 from organizations o where o.id = t.organization_id)
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`create trigger account_health_task_insert after insert on backup_tasks when NEW.deleted_at is null begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select NEW.organization_id, 1, 0, 0, 0, 0, 0, 0, null where true
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`create trigger account_health_task_restore after update of deleted_at on backup_tasks
  when OLD.deleted_at is not null and NEW.deleted_at is null begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select NEW.organization_id, 1, coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0), coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
    coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0), coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0), coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
    max(case when e.deleted_at is null then e.last_run_at end)
  from task_entities e where e.task_id = NEW.id
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`create trigger account_health_task_delete after update of deleted_at on backup_tasks
  when OLD.deleted_at is null and NEW.deleted_at is not null begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select OLD.organization_id, -1, -coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
    -coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
    null
  from task_entities e where e.task_id = OLD.id
    having exists (select 1 from organizations o where o.id = OLD.organization_id)
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`create trigger account_health_task_remove before delete on backup_tasks when OLD.deleted_at is null begin
  insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
  select OLD.organization_id, -1, -coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
    -coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), -coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
    null
  from task_entities e where e.task_id = OLD.id
    having exists (select 1 from organizations o where o.id = OLD.organization_id)
  on conflict(organization_id) do update set tasks = tasks + excluded.tasks, failed = failed + excluded.failed,
    partial = partial + excluded.partial, success = success + excluded.success, protected = protected + excluded.protected,
    bytes = bytes + excluded.bytes, stored_bytes = stored_bytes + excluded.stored_bytes,
    last_run_at = case when last_run_at is null or excluded.last_run_at > last_run_at then coalesce(excluded.last_run_at, last_run_at) else last_run_at end;
end;`);
    this.addSql(`insert into account_health (organization_id, tasks, failed, partial, success, protected, bytes, stored_bytes, last_run_at)
select t.organization_id, count(distinct t.id),
  coalesce(sum(case when e.deleted_at is null and e.status = 'failed' then 1 else 0 end), 0),
  coalesce(sum(case when e.deleted_at is null and e.status = 'partial' then 1 else 0 end), 0),
  coalesce(sum(case when e.deleted_at is null and e.status = 'success' then 1 else 0 end), 0),
  coalesce(sum(case when e.deleted_at is null and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed') then 1 else 0 end), 0),
  coalesce(sum(case when e.deleted_at is null then e.last_bytes else 0 end), 0), coalesce(sum(case when e.deleted_at is null then e.stored_bytes else 0 end), 0),
  max(case when e.deleted_at is null then e.last_run_at end)
from backup_tasks t left join task_entities e on e.task_id = t.id
where t.deleted_at is null group by t.organization_id`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger if exists account_health_entity_insert;`);
    this.addSql(`drop trigger if exists account_health_entity_update;`);
    this.addSql(`drop trigger if exists account_health_entity_delete;`);
    this.addSql(`drop trigger if exists account_health_task_insert;`);
    this.addSql(`drop trigger if exists account_health_task_restore;`);
    this.addSql(`drop trigger if exists account_health_task_delete;`);
    this.addSql(`drop trigger if exists account_health_task_remove;`);
    this.addSql(`drop table if exists \`account_health\`;`);
    this.addSql('alter table `task_entities` drop column `stored_bytes`;');
  }
}
