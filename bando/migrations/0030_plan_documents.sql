-- The documents of a plan version (approval decision, explanatory report, drawings), kept
-- in the database with the version they belong to: one backup holds the plan and its
-- papers, and a document is served by its checksum, byte for byte as delivered.

create table if not exists bando.plan_documents (
    layer        text not null,
    version_id   text not null,
    sha256       text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    name         text not null check (length(name) between 1 and 200),
    media_type   text not null,
    size_bytes   bigint not null check (size_bytes > 0),
    content      bytea not null,
    added_at     timestamptz not null default now(),
    primary key (layer, version_id, sha256),
    foreign key (layer, version_id) references bando.layer_versions (layer, version_id) on delete cascade
);
create index if not exists plan_documents_sha256_idx on bando.plan_documents (sha256);
