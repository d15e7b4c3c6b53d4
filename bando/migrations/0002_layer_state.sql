-- What is published now, per layer: the load it came from (tile ETags derive from it),
-- and a read-only role that the public API connects as.

create table if not exists bando.layer_state (
    layer        text primary key,
    lineage_id   bigint not null references bando.lineage (id),
    srid         int,
    row_count    bigint not null,
    published_at timestamptz not null default now()
);

create table if not exists bando.rasters (
    layer        text not null,
    version_id   text not null default 'current',
    path         text not null,
    srid         int not null,
    width        int not null,
    height       int not null,
    bounds       double precision[] not null,
    lineage_id   bigint not null references bando.lineage (id),
    published_at timestamptz not null default now(),
    primary key (layer, version_id)
);

-- (The API's roles and grants are made by `bando db up`, see bando/roles.py; migrations run as
-- the owner, who may not create roles, so this one only grants where the role exists.)
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'bando_reader') then
        create role bando_reader nologin;
    end if;
    grant usage on schema data to bando_reader;
exception when insufficient_privilege then
    raise notice 'cannot create role bando_reader; grant read access to data.* yourself';
end
$$;
