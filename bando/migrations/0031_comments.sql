-- Public consultation on draft plans (lấy ý kiến cộng đồng): a plan version's comment
-- period, and the comments citizens leave during it. A comment's text, name and contact
-- are personal data: the public API's role can neither read nor write the table — it may
-- only call bando.add_comment (which checks the period and the per-client flood limit in
-- the same transaction as the insert) and read the per-zone counts of closed periods.

create table if not exists bando.consultations (
    layer       text not null,
    version_id  text not null,
    opens_at    timestamptz not null,
    closes_at   timestamptz not null check (closes_at > opens_at),
    primary key (layer, version_id),
    foreign key (layer, version_id) references bando.layer_versions (layer, version_id) on delete cascade
);

create table if not exists bando.comments (
    id              bigserial primary key,
    layer           text not null,
    version_id      text not null,
    created_at      timestamptz not null default now(),
    body            text not null check (length(body) between 1 and 2000),
    lon             double precision not null check (lon between -180 and 180),
    lat             double precision not null check (lat between -90 and 90),
    parcel          text,             -- "maXa/sheet/parcel" when the citizen chose a parcel
    zone            text,             -- the plan zone of the version under consultation at that point
    author_name     text check (length(author_name) <= 100),
    author_contact  text check (length(author_contact) <= 200),
    client_hash     text not null,    -- keyed hash of the client address: flood limit, never the address
    status          text not null default 'new' check (status in ('new', 'accepted', 'rejected')),
    moderated_at    timestamptz,
    foreign key (layer, version_id) references bando.consultations (layer, version_id)
);
create index if not exists comments_client_idx on bando.comments (client_hash, created_at);
create index if not exists comments_version_idx on bando.comments (layer, version_id, zone);

create or replace function bando.add_comment(
    p_layer text, p_version text, p_body text, p_lon double precision, p_lat double precision,
    p_parcel text, p_zone text, p_name text, p_contact text, p_client text, p_max int, p_window interval
) returns bigint
language plpgsql security definer set search_path = pg_catalog, bando as $$
declare
    new_id bigint;
begin
    if not exists (select 1 from bando.consultations c where c.layer = p_layer and c.version_id = p_version
                   and now() >= c.opens_at and now() < c.closes_at) then
        raise exception 'comment period closed' using errcode = 'BC001';
    end if;
    -- one client's posts are counted under a lock on its hash, so concurrent posts cannot all pass
    perform pg_advisory_xact_lock(hashtextextended(p_client, 0));
    if (select count(*) from bando.comments where client_hash = p_client
        and created_at > now() - p_window) >= p_max then
        raise exception 'too many comments' using errcode = 'BC002';
    end if;
    insert into bando.comments (layer, version_id, body, lon, lat, parcel, zone, author_name, author_contact, client_hash)
    values (p_layer, p_version, p_body, p_lon, p_lat, p_parcel, p_zone, nullif(p_name, ''), nullif(p_contact, ''), p_client)
    returning id into new_id;
    return new_id;
end $$;
revoke all on function bando.add_comment(text, text, text, double precision, double precision, text, text, text, text,
    text, int, interval) from public;

-- How many comments each zone received, for periods that have closed (no text, no names).
create or replace view bando.comment_counts as
    select c.layer, c.version_id, m.zone, count(*) as comments
    from bando.consultations c join bando.comments m using (layer, version_id)
    where now() >= c.closes_at and m.status <> 'rejected'
    group by c.layer, c.version_id, m.zone;
