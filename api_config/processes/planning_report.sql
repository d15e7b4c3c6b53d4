-- The citizen's question, "what is planned for my parcel?", answered in one statement.
--
-- Read once by api_config/processes/planning_report.py, which fills the {placeholders}
-- from the layer catalogue (public field lists, code fields, the province's TM-3 SRID,
-- and each layer's table, or an empty stand-in where a layer is not published) and
-- passes every request value as a parameter:
--   mode       'parcel' (by key), 'point' (the parcel under a point) or 'area' (a drawn polygon)
--   maxa, sheet, num   the parcel key (mode 'parcel')
--   wkb, in_srid       the point or polygon as WKB, and the SRID its coordinates are in
--   version    a plan version_id, or null for the version in force
--   lang       'vi' or 'en': which name of a land-use code to show
--   max_area   the largest area (square metres) a drawn polygon may cover
--   min_piece  overlaps smaller than this (square metres) are digitising noise, not answers
--
-- Every area is ST_Area in the layers' own TM-3 plane (legal areas are planar), of
-- ST_Intersection with the subject; the spatial joins are && / ST_Intersects on the
-- layers' GiST indexes, so the cost depends on what lies under the subject, not on the
-- size of the tables. PostGIS writes the JSON; Python only decodes one string.
--
-- Red lines (chỉ giới đường đỏ): the samples, like Circular 16/2025/TT-BXD deliveries,
-- draw a planned road as a PAIR of red lines, one along each edge of the road reserve,
-- each carrying the road's right-of-way width (loGioi). The land taken for the road is
-- the strip between the two lines. A point lies in that strip exactly when it is within
-- loGioi of both edges, so the strip is the intersection of the two edges' buffers by
-- loGioi (flat ends, mitred bends: on the samples it matches the polygon between the
-- edges, as data_samples/README.md draws it, to 0.05 m² per parcel). Lines are grouped into roads by plan, road name and loGioi; the
-- sides are told apart by the maDoiTuong suffix (-T left, -P right), and an unsuffixed
-- group of exactly two lines is taken as the two edges. A road drawn with a single red
-- line is taken as the road's axis, and its strip is the buffer by loGioi / 2. Lines
-- are clipped to the subject's neighbourhood before buffering, so a 5 km road costs
-- no more than a 50 m one.

-- name: report
with
input as (
    -- the point or polygon, moved from the client's CRS into the layers' TM-3 plane
    select st_transform(st_setsrid(st_geomfromwkb(%(wkb)s::bytea), %(in_srid)s::int), {srid}) as g
    where %(wkb)s::bytea is not null
),
subject as (
    select p.fid, p.geom from {parcels} p
    where %(mode)s::text = 'parcel'
      and p."maXa" = %(maxa)s::text
      and p."soHieuToBanDo" = %(sheet)s::bigint
      and p."soThuTuThua" = %(num)s::bigint
    union all
    (   -- a point on a shared boundary touches two parcels: prefer the one that contains it
        select p.fid, p.geom from {parcels} p, input i
        where %(mode)s::text = 'point' and st_intersects(p.geom, i.g)
        order by st_contains(p.geom, i.g) desc, p.fid
        limit 1
    )
    union all
    select null::bigint, i.g from input i
    where %(mode)s::text = 'area' and st_area(i.g) <= %(max_area)s::float8
),
measure as (
    select s.fid, s.geom, st_area(s.geom) as area from subject s limit 1
),
codes as (
    select code, colour, case when %(lang)s::text = 'en' then name_en else name_vi end as name
    from bando.land_use_codes
),
-- the plan version asked for, in the layers that have it; elsewhere the one in force
asked as (
    select layer from bando.layer_versions where version_id = %(version)s::text
),
parcel as (
    select json_build_object({parcel_props},
               'landUseName', c.name, 'colour', c.colour,
               'geometryAreaM2', round(m.area::numeric, 2),
               'geometry', st_asgeojson(st_transform(p.geom, 4326), 7)::json) as doc
    from measure m
    join {parcels} p on p.fid = m.fid
    left join codes c on c.code = p.{parcel_code}
),
status_rows as (
    select z.{status_code} as code, st_area(st_intersection(z.geom, m.geom)) as area
    from measure m
    join {land_use_status} z on st_intersects(z.geom, m.geom)
),
current_use as (
    select coalesce(json_agg(json_build_object(
               'code', u.code, 'landUseName', c.name, 'colour', c.colour,
               'areaM2', round(u.area::numeric, 1),
               'percent', round((100 * u.area / nullif(m.area, 0))::numeric, 2))
               order by u.area desc), '[]'::json) as items,
           sum(u.area) as covered
    from (select code, sum(area) as area from status_rows group by code) u
    cross join measure m
    left join codes c on c.code = u.code
    where u.area >= %(min_piece)s::float8
),
plan_rows as (
    select z.version_id, z.{plan_code} as code, x.area,
           json_build_object({plan_props}) as props
    from measure m
    join {land_use_plan} z on st_intersects(z.geom, m.geom)
    cross join lateral (select st_area(st_intersection(z.geom, m.geom)) as area) x
    where x.area >= %(min_piece)s::float8
      and case when {plan_layer} in (select layer from asked)
               then z.version_id = %(version)s::text else z.valid_to is null end
),
planned as (
    select coalesce(json_agg(json_build_object(
               'zone', r.props, 'landUseName', c.name, 'colour', c.colour,
               'areaM2', round(r.area::numeric, 1),
               'percent', round((100 * r.area / nullif(m.area, 0))::numeric, 2),
               'version', r.version_id)
               order by r.area desc), '[]'::json) as items,
           sum(r.area) as covered
    from plan_rows r
    cross join measure m
    left join codes c on c.code = r.code
),
plot_rows as (
    select z.version_id, z.{plot_code} as code, x.area,
           json_build_object({plot_props}) as props
    from measure m
    join {planning_plots} z on st_intersects(z.geom, m.geom)
    cross join lateral (select st_area(st_intersection(z.geom, m.geom)) as area) x
    where x.area >= %(min_piece)s::float8
      and case when {plot_layer} in (select layer from asked)
               then z.version_id = %(version)s::text else z.valid_to is null end
),
plots as (
    select coalesce(json_agg(json_build_object(
               'plot', r.props, 'landUseName', c.name, 'colour', c.colour,
               'areaM2', round(r.area::numeric, 1),
               'percent', round((100 * r.area / nullif(m.area, 0))::numeric, 2),
               'version', r.version_id)
               order by r.area desc), '[]'::json) as items,
           sum(r.area) as covered
    from plot_rows r
    cross join measure m
    left join codes c on c.code = r.code
),
red_near as (
    -- red lines of the chosen version whose road reserve can reach the subject
    select r.fid, r.version_id, r."maThongTinQH" as plan_code,
           coalesce(r."tenDuong", r."maDoiTuong") as road, r."loGioi" as width, r."ghiChu" as note,
           case when r."maDoiTuong" ~* '[-_]T$' then 'T' when r."maDoiTuong" ~* '[-_]P$' then 'P' end as side,
           st_intersection(r.geom, st_expand(m.geom, 2 * r."loGioi" + 1)) as g
    from measure m
    join {red_lines} r on r.geom && st_expand(m.geom, {red_reach})
    where r."loGioi" > 0
      and case when {red_layer} in (select layer from asked)
               then r.version_id = %(version)s::text else r.valid_to is null end
),
red_roads as (
    select version_id, plan_code, road, width, min(note) as note, count(*) as n,
           bool_or(side is not null) as sided,
           st_union(g) filter (where side = 'T') as left_edge,
           st_union(g) filter (where side = 'P') as right_edge,
           array_agg(g order by fid) as lines
    from red_near
    group by version_id, plan_code, road, width
),
red_strips as materialized (  -- each strip is built once, then tested and clipped
    select version_id, road, width, note,
           case when (left_edge is not null and right_edge is not null) or (not sided and n = 2)
                then 'edges' else 'axis' end as rule,
           case when left_edge is not null and right_edge is not null
                    then st_intersection(st_buffer(left_edge, width, 'endcap=flat join=mitre'),
                                         st_buffer(right_edge, width, 'endcap=flat join=mitre'))
                when not sided and n = 2
                    then st_intersection(st_buffer(lines[1], width, 'endcap=flat join=mitre'),
                                         st_buffer(lines[2], width, 'endcap=flat join=mitre'))
                else st_buffer(st_collect(lines), width / 2, 'endcap=flat join=mitre') end as strip
    from red_roads
),
red_hits as (
    select s.version_id, s.road, s.width, s.note, s.rule,
           st_collectionextract(st_intersection(s.strip, m.geom), 3) as g
    from red_strips s
    cross join measure m
    where st_intersects(s.strip, m.geom)
),
red as (
    select coalesce(json_agg(json_build_object(
               'road', h.road, 'width', h.width, 'note', h.note, 'rule', h.rule,
               'areaM2', round(st_area(h.g)::numeric, 1),
               'percent', round((100 * st_area(h.g) / nullif(m.area, 0))::numeric, 2),
               'version', h.version_id)
               order by st_area(h.g) desc), '[]'::json) as roads,
           st_union(h.g) as g
    from red_hits h
    cross join measure m
    where st_area(h.g) >= %(min_piece)s::float8
),
used as (
    select {plan_layer} as layer, version_id from plan_rows
    union select {plot_layer}, version_id from plot_rows
    union select {red_layer}, version_id from red_hits
),
versions as (
    select coalesce(json_agg(json_build_object(
               'layer', v.layer, 'versionId', v.version_id, 'decision', v.decision,
               'decisionDate', v.decision_date, 'authority', v.authority,
               'validFrom', v.valid_from, 'validTo', v.valid_to, 'inForce', v.valid_to is null, 'draft', v.draft,
               'documents', (select coalesce(json_agg(json_build_object(
                                 'name', d.name, 'mediaType', d.media_type, 'sizeBytes', d.size_bytes,
                                 'sha256', d.sha256, 'href', '/documents/' || d.sha256) order by d.name), '[]'::json)
                             from bando.plan_documents d where d.layer = v.layer and d.version_id = v.version_id))
               order by v.layer, v.valid_from), '[]'::json) as doc
    from bando.layer_versions v
    join used u on u.layer = v.layer and u.version_id = v.version_id
)
select json_build_object(
    'found', exists (select 1 from measure),
    'inputAreaM2', (select round(st_area(g)::numeric, 1) from input where %(mode)s::text = 'area'),
    'versionKnown', %(version)s::text is null or exists (select 1 from asked where layer in ({versioned_layers})),
    'knownVersions', (select coalesce(json_agg(distinct version_id), '[]'::json) from bando.layer_versions
                      where layer in ({versioned_layers})),
    'areaM2', (select round(area::numeric, 2) from measure),
    'parcel', (select doc from parcel),
    'currentLandUse', (select json_build_object('items', items,
                           'coveredPercent', round((100 * covered / nullif(m.area, 0))::numeric, 2))
                       from current_use, measure m),
    'plannedLandUse', (select json_build_object('zones', items,
                           'coveredPercent', round((100 * covered / nullif(m.area, 0))::numeric, 2))
                       from planned, measure m),
    'construction', (select json_build_object('plots', items,
                         'coveredPercent', round((100 * covered / nullif(m.area, 0))::numeric, 2))
                     from plots, measure m),
    'redLines', (select json_build_object('roads', red.roads,
                     'areaM2', round(coalesce(st_area(red.g), 0)::numeric, 1),
                     'percent', round((100 * coalesce(st_area(red.g), 0) / nullif(m.area, 0))::numeric, 2),
                     'geometry', case when red.g is null or st_isempty(red.g) then null
                                      else st_asgeojson(st_transform(red.g, 4326), 7)::json end)
                 from red, measure m),
    'versions', (select doc from versions),
    'published', (select json_object_agg(layer, published_at) from bando.layer_state
                  where layer in ({report_layers}))
)::text
