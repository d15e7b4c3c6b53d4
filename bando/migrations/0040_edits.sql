-- Edits through the internal API (OGC API Features Part 4): every state a feature had, and who
-- changed it. The published table holds the current state; `feature_history` holds every state
-- an edit or a re-delivery closed or opened (valid_from/valid_to), so `datetime=` and
-- `bando history` can show a feature as it was. `audit` says who (the token's name), when,
-- what operation, and the states before and after.

create table if not exists bando.audit (
    id         bigserial primary key,
    at         timestamptz not null default now(),
    token      text not null,
    layer      text not null,
    fid        bigint not null,
    operation  text not null check (operation in ('create', 'replace', 'update', 'delete', 'load')),
    before     jsonb,
    after      jsonb
);
create index if not exists audit_layer_fid on bando.audit (layer, fid, id);

create table if not exists bando.feature_history (
    id          bigserial primary key,
    layer       text not null,
    fid         bigint not null,
    valid_from  timestamptz,               -- null: since the layer was loaded
    valid_to    timestamptz,               -- null: still current
    properties  jsonb not null,            -- every field (the internal API, `bando history`)
    public      jsonb not null,            -- the public fields only: the public API's column
    geom        geometry,
    audit_id    bigint references bando.audit (id)
);
create index if not exists feature_history_layer_fid on bando.feature_history (layer, fid, valid_from);
create index if not exists feature_history_open on bando.feature_history (layer, fid) where valid_to is null;

-- Every edit bumps its layer's revision: tile ETags and caches derive from (lineage, revision).
alter table bando.layer_state add column if not exists revision bigint not null default 0;
