-- Platform schemas and tables: code tables, lineage, rejects, layer versions.
-- Published layers live in schema "data"; loads build in "staging", which readers never see.

create schema if not exists bando;
create schema if not exists data;
create schema if not exists staging;

create table if not exists bando.land_use_codes (
    code        text primary key check (code ~ '^[A-Z]{3}$'),
    name_vi     text not null,
    name_en     text not null,
    grp         text not null check (grp in ('NNP', 'PNN', 'CSD')),
    colour      text not null check (colour ~ '^#[0-9A-F]{6}$')
);
comment on table bando.land_use_codes is
    'Land-use codes of Thông tư 08/2024/TT-BTNMT (amended 2025); synced from bando/data/land_use_codes.csv';

create table if not exists bando.land_use_legacy (
    legacy_code text primary key,
    code        text not null references bando.land_use_codes (code),
    note        text not null
);

create table if not exists bando.lineage (
    id                bigserial primary key,
    layer             text not null,
    source_path       text not null,
    source_sha256     text,
    source_crs        text,
    encoding          text,
    encoding_note     text,
    version_id        text,
    rows_read         bigint not null default 0,
    rows_loaded       bigint not null default 0,
    rows_rejected     bigint not null default 0,
    rows_repaired     bigint not null default 0,
    rows_warned       bigint not null default 0,
    catalogue_version text,
    outcome           text not null default 'running'
                      check (outcome in ('running', 'published', 'refused', 'failed', 'noop', 'dry-run')),
    message           text,
    loaded_by         text not null default current_user,
    started_at        timestamptz not null default now(),
    finished_at       timestamptz,
    duration_s        double precision,
    report            jsonb
);
create index if not exists lineage_layer_idx on bando.lineage (layer, started_at desc);
create index if not exists lineage_sha_idx on bando.lineage (layer, source_sha256);

create table if not exists bando.rejects (
    id           bigserial primary key,
    lineage_id   bigint not null references bando.lineage (id) on delete cascade,
    layer        text not null,
    source_index bigint,
    rule         text not null,
    severity     text not null check (severity in ('error', 'warning', 'note')),
    reason       text not null,
    record       jsonb,
    geometry_wkt text
);
create index if not exists rejects_lineage_idx on bando.rejects (lineage_id);
create index if not exists rejects_layer_idx on bando.rejects (layer, rule);

create table if not exists bando.layer_versions (
    layer         text not null,
    version_id    text not null,
    decision      text,
    decision_date date,
    authority     text,
    valid_from    date,
    valid_to      date,
    lineage_id    bigint references bando.lineage (id),
    primary key (layer, version_id)
);
