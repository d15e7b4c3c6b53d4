-- Each published layer's extent, in its storage CRS: set by every publish, grown by every
-- edit. The API reads it with the layers' clock, so tile-set limits and the map style's
-- bounds follow a new commune's delivery or an edited feature without a restart.
alter table bando.layer_state add column if not exists bounds box2d;

do $$
declare
    r record;
    b box2d;
begin
    for r in
        select s.layer from bando.layer_state s
        where s.bounds is null and s.srid is not null and exists (
            select 1 from information_schema.columns c
            where c.table_schema = 'data' and c.table_name = s.layer and c.column_name = 'geom')
    loop
        execute format('select st_extent(geom) from data.%I', r.layer) into b;
        update bando.layer_state set bounds = b where layer = r.layer;
    end loop;
end
$$;
