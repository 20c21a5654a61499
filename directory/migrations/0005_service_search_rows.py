"""PostgreSQL only: one narrow, trigger-maintained search row per service.

Directory search filters on words, need, language, place, hours, age and capacity and
counts facets over everything that passes. With the normalized tables every candidate
costs a handful of index lookups (its locations, its schedules, its needs); at 100,000
services a common word has 20,000 candidates. directory_servicesearch holds what those
filters read in one row per service, so a search is one bitmap scan of one table:

- vector: the weighted words (what 0003 kept on directory_service, which this drops);
- needs, languages, terms: arrays for the filters and the facet counts;
- x, y, z: the unit vector (on the sphere) of its first located location, more_xyz the
  others' flattened: "within r miles" is then a dot product against the origin's vector
  (>= cos(r / earth radius)) instead of a haversine per row. Where the box around the
  origin holds few locations the search first narrows to them through the index on
  directory_location (latitude, longitude);
- hours: the weekly opening hours as a multirange of local seconds since Monday 00:00 in
  hours_timezone, so "open now" is one containment test. Services whose schedules span
  time zones or carry validity dates are flagged hours_complex and the search checks
  their schedules directly; days is the OR of the schedules' day masks.

Fixed-width columns come first and the long ones (arrays, words) last, so the filters
read their columns without walking past variable-length ones.

Statement-level triggers on every table the row is derived from refresh the affected rows
in the same transaction, so an edit (an org admin's, the admin's, an import's) is searchable
at once. SQLite keeps searching the normalized tables and has none of this.
"""

from django.db import migrations

DAY = 86_400  # seconds
WEEK = 7 * DAY

CREATE_TABLE = """
CREATE TABLE directory_servicesearch (
    service_id bigint PRIMARY KEY,
    active boolean NOT NULL,
    accepting boolean NOT NULL,
    hours_complex boolean NOT NULL,
    days smallint NOT NULL,
    x double precision,
    y double precision,
    z double precision,
    minimum_age smallint,
    maximum_age smallint,
    hours_timezone varchar(40),
    hours int4multirange,
    more_xyz double precision[],
    needs varchar(64)[] NOT NULL,
    languages varchar(10)[] NOT NULL,
    terms bigint[] NOT NULL,
    name varchar(255) NOT NULL,
    vector tsvector NOT NULL
)
"""
# No foreign key to directory_service: Django's test flush truncates the model tables
# without CASCADE, which a referencing table would refuse. The triggers below delete a
# service's row with it (and empty the table when directory_service is truncated).

INDEXES = [
    # Words: vector @@ to_tsquery(...).
    "CREATE INDEX dir_servicesearch_vector_gin ON directory_servicesearch USING gin (vector)",
    # Open now: the few rows whose schedules the hours column cannot express.
    "CREATE INDEX dir_servicesearch_complex_idx ON directory_servicesearch (service_id)"
    " WHERE hours_complex",
]

REFRESH_FUNCTION = f"""
CREATE FUNCTION directory_servicesearch_refresh(ids bigint[]) RETURNS void
LANGUAGE sql AS $$
DELETE FROM directory_servicesearch x
 WHERE x.service_id = ANY (ids)
   AND NOT EXISTS (SELECT 1 FROM directory_service s WHERE s.id = x.service_id);
INSERT INTO directory_servicesearch AS x (
    service_id, active, accepting, hours_complex, days, x, y, z, minimum_age, maximum_age,
    hours_timezone, hours, more_xyz, needs, languages, terms, name, vector)
SELECT s.id,
       s.status = 'active',
       s.accepts_referrals AND s.capacity <> 'not_accepting',
       coalesce(h.complex, false),
       coalesce(h.days, 0),
       p.xyz[1],
       p.xyz[2],
       p.xyz[3],
       s.minimum_age,
       s.maximum_age,
       CASE WHEN NOT h.complex THEN h.tz END,
       CASE WHEN NOT h.complex THEN w.hours END,
       CASE WHEN cardinality(p.xyz) > 3 THEN p.xyz[4:] END,
       coalesce(n.needs, '{{}}'),
       coalesce(l.codes, '{{}}'),
       coalesce(t.terms, '{{}}'),
       s.name,
       setweight(to_tsvector('english'::regconfig, coalesce(s.name, '')), 'A')
         || setweight(to_tsvector('english'::regconfig, coalesce(s.search_document, '')), 'D')
  FROM directory_service s
 CROSS JOIN LATERAL (
       SELECT array_agg(DISTINCT sn.category ORDER BY sn.category) AS needs
         FROM directory_serviceneed sn WHERE sn.service_id = s.id) n
 CROSS JOIN LATERAL (
       SELECT array_agg(DISTINCT lg.code ORDER BY lg.code) AS codes
         FROM directory_language lg WHERE lg.service_id = s.id) l
 CROSS JOIN LATERAL (
       SELECT array_agg(DISTINCT st.taxonomy_term_id ORDER BY st.taxonomy_term_id) AS terms
         FROM directory_servicetaxonomy st WHERE st.service_id = s.id) t
 CROSS JOIN LATERAL (
       SELECT array_agg(v.c ORDER BY lo.id, v.i) AS xyz
         FROM directory_serviceatlocation sal
         JOIN directory_location lo ON lo.id = sal.location_id
        CROSS JOIN LATERAL (VALUES
              (1, cos(radians(lo.latitude)) * cos(radians(lo.longitude))),
              (2, cos(radians(lo.latitude)) * sin(radians(lo.longitude))),
              (3, sin(radians(lo.latitude)))) AS v(i, c)
        WHERE sal.service_id = s.id AND lo.latitude IS NOT NULL AND lo.longitude IS NOT NULL) p
 CROSS JOIN LATERAL (
       SELECT bit_or(sc.days_mask)::smallint AS days,
              count(DISTINCT sc.timezone) > 1
                OR bool_or(sc.valid_from IS NOT NULL OR sc.valid_to IS NOT NULL) AS complex,
              min(sc.timezone) AS tz
         FROM directory_schedule sc WHERE sc.service_id = s.id) h
 CROSS JOIN LATERAL (
       -- Each day a schedule runs on: [opens, closes) that day, or into the next day when
       -- it closes at or before it opens (22:00-06:00; opens = closes is around the clock).
       -- Sunday night's overflow past the end of the week wraps to Monday morning. Times
       -- are whole seconds (schedules are in minutes); the search floors "now" to match.
       SELECT range_agg(r.span) AS hours
         FROM directory_schedule sc
        CROSS JOIN generate_series(0, 6) AS d(day)
        CROSS JOIN LATERAL (VALUES (
              d.day * {DAY} + ceil(extract(epoch FROM sc.opens_at))::int,
              d.day * {DAY} + ceil(extract(epoch FROM sc.closes_at))::int
                + CASE WHEN sc.closes_at <= sc.opens_at THEN {DAY} ELSE 0 END
              )) AS b(lo, hi)
        CROSS JOIN LATERAL (VALUES
              (int4range(b.lo, least(b.hi, {WEEK}))),
              (int4range(0, greatest(b.hi - {WEEK}, 0)))) AS r(span)
        WHERE sc.service_id = s.id AND (sc.days_mask & (1 << d.day)) <> 0) w
 WHERE s.id = ANY (ids)
ON CONFLICT (service_id) DO UPDATE SET
    active = EXCLUDED.active, accepting = EXCLUDED.accepting,
    hours_complex = EXCLUDED.hours_complex, days = EXCLUDED.days,
    x = EXCLUDED.x, y = EXCLUDED.y, z = EXCLUDED.z,
    minimum_age = EXCLUDED.minimum_age, maximum_age = EXCLUDED.maximum_age,
    hours_timezone = EXCLUDED.hours_timezone, hours = EXCLUDED.hours,
    more_xyz = EXCLUDED.more_xyz,
    needs = EXCLUDED.needs, languages = EXCLUDED.languages, terms = EXCLUDED.terms,
    name = EXCLUDED.name, vector = EXCLUDED.vector;
$$
"""

# One function per shape of transition table; each refreshes the services the statement
# touched, once per statement (a bulk_create of 2,000 rows is one refresh of 2,000 rows).
TRIGGER_FUNCTIONS = {
    "directory_servicesearch_rows_inserted": (
        "SELECT DISTINCT service_id FROM new_rows WHERE service_id IS NOT NULL"
    ),
    "directory_servicesearch_rows_deleted": (
        "SELECT DISTINCT service_id FROM old_rows WHERE service_id IS NOT NULL"
    ),
    "directory_servicesearch_rows_updated": (
        "SELECT service_id FROM new_rows WHERE service_id IS NOT NULL"
        " UNION SELECT service_id FROM old_rows WHERE service_id IS NOT NULL"
    ),
    "directory_servicesearch_services_inserted": "SELECT id FROM new_rows",
    "directory_servicesearch_services_deleted": "SELECT id FROM old_rows",
    "directory_servicesearch_services_updated": "SELECT id FROM new_rows",
    "directory_servicesearch_locations_updated": (
        "SELECT DISTINCT sal.service_id FROM directory_serviceatlocation sal"
        " JOIN new_rows n ON n.id = sal.location_id"
        " JOIN old_rows o ON o.id = n.id"
        " WHERE n.latitude IS DISTINCT FROM o.latitude"
        " OR n.longitude IS DISTINCT FROM o.longitude"
    ),
}

# The nearest of many further locations (the search inlines the first four): a function,
# so the planner costs it as one call rather than a subquery per row.
CLOSENESS_FUNCTION = """
CREATE FUNCTION directory_servicesearch_closeness(xyz double precision[],
    x0 double precision, y0 double precision, z0 double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT max(xyz[i] * x0 + xyz[i + 1] * y0 + xyz[i + 2] * z0)
  FROM generate_series(1, cardinality(xyz), 3) AS i
$$
"""

REBUILD_FUNCTION = """
CREATE FUNCTION directory_servicesearch_rebuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE directory_servicesearch;
    PERFORM directory_servicesearch_refresh(ARRAY(SELECT id FROM directory_service));
    RETURN NULL;
END
$$
"""

# (table, kind): kind picks the trigger functions above.
SOURCES = [
    ("directory_service", "services"),
    ("directory_serviceneed", "rows"),
    ("directory_language", "rows"),
    ("directory_servicetaxonomy", "rows"),
    ("directory_serviceatlocation", "rows"),
    ("directory_schedule", "rows"),
]


def forward_statements() -> list[str]:
    statements = [CREATE_TABLE, *INDEXES, REFRESH_FUNCTION, CLOSENESS_FUNCTION, REBUILD_FUNCTION]
    for name, ids in TRIGGER_FUNCTIONS.items():
        statements.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n    PERFORM directory_servicesearch_refresh(ARRAY({ids}));\n    RETURN NULL;\nEND\n$$"
        )
    for table, kind in SOURCES:
        short = table.removeprefix("directory_")
        for event, transition, done in (
            ("insert", "NEW TABLE AS new_rows", "inserted"),
            ("delete", "OLD TABLE AS old_rows", "deleted"),
            ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "updated"),
        ):
            function = f"directory_servicesearch_{kind}_{done}"
            statements.append(
                f"CREATE TRIGGER dir_search_{short}_{event} AFTER {event.upper()} ON {table}"
                f" REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
        statements.append(
            f"CREATE TRIGGER dir_search_{short}_truncate AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION directory_servicesearch_rebuild()"
        )
    statements.append(
        "CREATE TRIGGER dir_search_location_update AFTER UPDATE ON directory_location"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION directory_servicesearch_locations_updated()"
    )
    # The words now live in directory_servicesearch.vector; stop maintaining the old copy.
    statements += [
        "DROP INDEX IF EXISTS dir_service_search_gin",
        "ALTER TABLE directory_service DROP COLUMN IF EXISTS search_vector",
        "SELECT directory_servicesearch_refresh(ARRAY(SELECT id FROM directory_service))",
    ]
    return statements


def backward_statements() -> list[str]:
    statements = ["DROP TRIGGER IF EXISTS dir_search_location_update ON directory_location"]
    for table, _kind in SOURCES:
        short = table.removeprefix("directory_")
        for event in ("insert", "delete", "update", "truncate"):
            statements.append(f"DROP TRIGGER IF EXISTS dir_search_{short}_{event} ON {table}")
    for name in [*TRIGGER_FUNCTIONS, "directory_servicesearch_rebuild"]:
        statements.append(f"DROP FUNCTION IF EXISTS {name}()")
    statements += [
        "DROP FUNCTION IF EXISTS directory_servicesearch_refresh(bigint[])",
        "DROP FUNCTION IF EXISTS directory_servicesearch_closeness(double precision[],"
        " double precision, double precision, double precision)",
        "DROP TABLE IF EXISTS directory_servicesearch",
        """ALTER TABLE directory_service ADD COLUMN search_vector tsvector
           GENERATED ALWAYS AS (
             setweight(to_tsvector('english', coalesce(name, '')), 'A')
             || setweight(to_tsvector('english', coalesce(search_document, '')), 'D')
           ) STORED""",
        "CREATE INDEX dir_service_search_gin ON directory_service USING gin (search_vector)",
    ]
    return statements


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in forward_statements():
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in backward_statements():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("directory", "0004_load_taxonomy")]

    operations = [migrations.RunPython(forward, backward)]
