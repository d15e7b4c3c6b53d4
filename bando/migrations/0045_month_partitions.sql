-- Readings are stored partitioned by month on their time field (one partition per calendar
-- month in Vietnam's time, UTC+7), so retention drops whole months instead of deleting rows.
-- A partition must exist before a reading of its month is written; loads, Part 4 creates and
-- edits ask for it through this function. It runs as the owner (edit roles may not create
-- tables), only for a range-partitioned table the owner owns in `data` or `staging` (for any
-- other table it does nothing), and only ever adds empty month partitions. Two writers asking
-- for the same new month queue on a lock of the table (SHARE UPDATE EXCLUSIVE: readers and
-- writers of existing months pass); the second finds the first one's partition.

create or replace function bando.month_partitions(p_parent regclass, p_times timestamptz[]) returns int
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    zone constant text := 'Asia/Ho_Chi_Minh';
    nsp text;
    rel text;
    month timestamp;
    part text;
    made int := 0;
begin
    select n.nspname, c.relname into nsp, rel
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_partitioned_table p on p.partrelid = c.oid
    where c.oid = p_parent and p.partstrat = 'r' and c.relowner = current_user::regrole
      and n.nspname in ('data', 'staging');
    if rel is null then
        return 0;  -- a plain table (published before readings were partitioned): nothing to add
    end if;
    for month in
        select distinct date_trunc('month', t at time zone zone) from unnest(p_times) t where t is not null order by 1
    loop
        part := rel || '_' || to_char(month, 'YYYYMM');
        continue when to_regclass(format('%I.%I', nsp, part)) is not null;
        -- one creator at a time; taking a table lock also makes the recheck see a partition
        -- another creator committed meanwhile (an advisory lock would leave the name lookup stale)
        execute format('lock table %I.%I in share update exclusive mode', nsp, rel);
        continue when to_regclass(format('%I.%I', nsp, part)) is not null;
        execute format(
            'create table %I.%I partition of %I.%I for values from (%L) to (%L)',
            nsp, part, nsp, rel, (month at time zone zone)::text, ((month + interval '1 month') at time zone zone)::text
        );
        made := made + 1;
    end loop;
    return made;
end $$;
revoke all on function bando.month_partitions(regclass, timestamptz[]) from public;
