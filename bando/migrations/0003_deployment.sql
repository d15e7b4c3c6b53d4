-- The province and storage CRS this database was set up for: switching province on an
-- existing database would silently mix CRSs, so bando refuses it (see bando/deployment.py).
create table if not exists bando.deployment (
    key   text primary key,
    value text not null,
    set_at timestamptz not null default now()
);
