-- Deleting audit rows (retention of readings, a layer's history cleared) checks that no
-- history row still points at each one: without this index that is a scan of the whole
-- history per deleted row.
create index if not exists feature_history_audit on bando.feature_history (audit_id);
