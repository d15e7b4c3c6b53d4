-- A plan version may be published as a draft (dự thảo) for viewing and comment before it
-- is approved. A draft is never in force: its validity interval is empty (valid_from =
-- valid_to), so every "current version" question passes over it; `bando approve` clears
-- the flag and gives it a start date.
alter table bando.layer_versions add column if not exists draft boolean not null default false;
