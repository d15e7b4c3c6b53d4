-- A delivery may be a folder or a zip of many files: lineage lists each file with its
-- counts, encoding and CRS; every finding names the file it comes from and its row there.
alter table bando.lineage add column if not exists files jsonb;
alter table bando.rejects add column if not exists source_file text;
alter table bando.rejects add column if not exists file_index bigint;
