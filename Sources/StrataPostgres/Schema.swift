/// Strata's tables in a PostgreSQL schema of their own (`strata` by default), created and upgraded by numbered
/// migrations; the schema's version is kept in its `meta` table, read before anything is changed (a newer one is
/// refused with `PostgresStoreError.newerSchema`, the schema left as it is). Migrations run in one transaction
/// under an advisory lock, so processes that start together migrate once.
///
/// ```sql
/// CREATE TABLE events (
///     tx bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint, -- the writing transaction (xid8)
///     position bigserial NOT NULL,           -- the order within the transaction
///     tenant text NOT NULL, aggregate_group text NOT NULL, aggregate_id text NOT NULL,
///     version bigint NOT NULL,               -- 1, 2, … per stream
///     type text NOT NULL, type_version bigint NOT NULL,
///     timestamp_us bigint NOT NULL,          -- the event's time: microseconds since 1970
///     recorded_at timestamptz NOT NULL DEFAULT now(), -- when this server stored it
///     event_id uuid NOT NULL,
///     correlation_id text, causation_id text, "user" text,
///     payload bytea NOT NULL,                -- the codec's bytes (JSON or binary), as appended
///     PRIMARY KEY (tx, position),            -- the global order
///     UNIQUE (tenant, aggregate_group, aggregate_id, version))
/// CREATE TABLE snapshots (id bigserial PRIMARY KEY, subject_kind smallint, subject_a text, subject_b text,
///     subject_c text, projector text, projector_version bigint, codec text, position_tx bigint,
///     position_sequence bigint, version bigint, created_us bigint, state bytea)
/// CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)   -- format = strata, schema_version = 2
/// FUNCTION append(…)   -- a batch's version checks and inserts, one statement (see `PostgresEventStore`)
/// PROCEDURE append_committed(…)   -- the same, committed before the statement completes
/// ```
public enum StrataPostgresSchema {
    /// The newest schema version this code knows.
    public static let version = 2

    /// The SQL statements of each migration, in order (index 0: version 1), for a schema named `schema` (quoted).
    static func migrations(_ schema: String) -> [[String]] {
        let s = "\"\(schema)\""
        return [[
            """
            CREATE TABLE \(s).events (
                tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
                position bigserial NOT NULL,
                tenant text NOT NULL, aggregate_group text NOT NULL, aggregate_id text NOT NULL,
                version bigint NOT NULL,
                type text NOT NULL, type_version bigint NOT NULL,
                timestamp_us bigint NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                event_id uuid NOT NULL,
                correlation_id text, causation_id text, "user" text,
                payload bytea NOT NULL,
                PRIMARY KEY (tx, position),
                UNIQUE (tenant, aggregate_group, aggregate_id, version))
            """,
            """
            CREATE TABLE \(s).snapshots (
                id bigserial PRIMARY KEY,
                subject_kind smallint NOT NULL, subject_a text NOT NULL, subject_b text NOT NULL, subject_c text NOT NULL,
                projector text NOT NULL, projector_version bigint NOT NULL, codec text NOT NULL,
                position_tx bigint NOT NULL, position_sequence bigint NOT NULL, version bigint NOT NULL,
                created_us bigint NOT NULL, state bytea NOT NULL)
            """,
            """
            CREATE INDEX snapshots_by_subject
                ON \(s).snapshots (subject_kind, subject_a, subject_b, subject_c, projector, position_tx, position_sequence)
            """,
            "CREATE TABLE \(s).meta (key text PRIMARY KEY, value text NOT NULL)",
            "INSERT INTO \(s).meta (key, value) VALUES ('format', 'strata'), ('schema_version', '0')",
            appendFunction(s, create: "CREATE FUNCTION", notify: schema),
            // The append as a procedure that commits before it answers. (A plain statement outside a transaction
            // block commits when the protocol's Sync arrives — after the server sent the statement's completion,
            // which postgres-nio takes for success: a server stopped in between lost an append its client saw
            // succeed. Measured in the restart test.)
            """
            CREATE PROCEDURE \(s).append_committed(
                check_tenants text[], check_groups text[], check_ids text[], check_kinds smallint[], check_versions bigint[],
                tenants text[], groups text[], ids text[], types text[], type_versions bigint[], timestamps bigint[],
                event_ids uuid[], correlations text[], causations text[], users text[], payloads bytea[],
                INOUT conflict integer, INOUT actual bigint, INOUT tx bigint, INOUT first_position bigint,
                INOUT last_position bigint, INOUT versions bigint[])
            LANGUAGE plpgsql AS $strata$
            BEGIN
                SELECT a.conflict, a.actual, a.tx, a.first_position, a.last_position, a.versions
                INTO conflict, actual, tx, first_position, last_position, versions
                FROM \(s).append(check_tenants, check_groups, check_ids, check_kinds, check_versions, tenants, groups, ids, types,
                                 type_versions, timestamps, event_ids, correlations, causations, users, payloads) a;
                COMMIT;
            END
            $strata$
            """,
        ], [
            // Version 2: the append function no longer sends the notification inside its transaction (a NOTIFY
            // holds the server's notification lock through commit, serialising every append: P2 on PostgreSQL, JSON
            // cached, went from 1.7k to 2.2k commits/s); the store notifies after commit, coalesced.
            appendFunction(s, create: "CREATE OR REPLACE FUNCTION", notify: nil),
        ]]
    }

    /// The `append` function: `notify` — the schema whose channel it notifies in its transaction (version 1), or
    /// nil (version 2 on: the store notifies after commit).
    private static func appendFunction(_ s: String, create: String, notify schema: String?) -> String {
        let notifying = schema.map {
            "\n    -- Waiters in every process wake when this commits.\n    PERFORM pg_notify('\($0)_events', '');"
        } ?? ""
        return """
        \(create) \(s).append(
            check_tenants text[], check_groups text[], check_ids text[], check_kinds smallint[], check_versions bigint[],
            tenants text[], groups text[], ids text[], types text[], type_versions bigint[], timestamps bigint[],
            event_ids uuid[], correlations text[], causations text[], users text[], payloads bytea[],
            OUT conflict integer, OUT actual bigint, OUT tx bigint, OUT first_position bigint, OUT last_position bigint,
            OUT versions bigint[])
        LANGUAGE plpgsql AS $strata$
        DECLARE
            lock_key bigint;
            head bigint;
        BEGIN
            -- One writer per stream until commit: every stream the batch names is locked, in one order (no
            -- deadlock between batches), so a stream's next version is read after its last writer committed.
            FOR lock_key IN
                SELECT DISTINCT hashtextextended(t || '/' || g || '/' || i, 0)
                FROM (SELECT * FROM unnest(check_tenants, check_groups, check_ids)
                      UNION ALL SELECT * FROM unnest(tenants, groups, ids)) AS streams (t, g, i)
                ORDER BY 1
            LOOP
                PERFORM pg_advisory_xact_lock(lock_key);
            END LOOP;
            -- The expected versions (kind 1: no stream, 2: exactly check_versions[n]); the first that fails is
            -- reported and nothing is written.
            FOR n IN 1 .. coalesce(array_length(check_tenants, 1), 0) LOOP
                SELECT coalesce(max(e.version), 0) INTO head FROM \(s).events e
                WHERE e.tenant = check_tenants[n] AND e.aggregate_group = check_groups[n] AND e.aggregate_id = check_ids[n];
                IF (check_kinds[n] = 1 AND head <> 0) OR (check_kinds[n] = 2 AND head <> check_versions[n]) THEN
                    conflict := n - 1;
                    actual := head;
                    RETURN;
                END IF;
            END LOOP;
            -- The events, in batch order (their positions follow it), each stream's versions going on from its head.
            WITH batch AS (
                SELECT * FROM unnest(tenants, groups, ids, types, type_versions, timestamps, event_ids, correlations,
                                     causations, users, payloads) WITH ORDINALITY
                    AS b (tenant, grp, id, type, type_version, ts, event_id, correlation, causation, usr, payload, n)
            ), heads AS (
                SELECT k.tenant, k.grp, k.id,
                       (SELECT coalesce(max(e.version), 0) FROM \(s).events e
                        WHERE e.tenant = k.tenant AND e.aggregate_group = k.grp AND e.aggregate_id = k.id) AS head
                FROM (SELECT DISTINCT tenant, grp, id FROM batch) k
            ), inserted AS (
                INSERT INTO \(s).events (tenant, aggregate_group, aggregate_id, version, type, type_version, timestamp_us,
                                         event_id, correlation_id, causation_id, "user", payload)
                SELECT b.tenant, b.grp, b.id, h.head + row_number() OVER (PARTITION BY b.tenant, b.grp, b.id ORDER BY b.n),
                       b.type, b.type_version, b.ts, b.event_id, b.correlation, b.causation, b.usr, b.payload
                FROM batch b JOIN heads h ON h.tenant = b.tenant AND h.grp = b.grp AND h.id = b.id
                ORDER BY b.n
                RETURNING position, version
            )
            SELECT min(position), max(position), array_agg(version ORDER BY position)
            INTO first_position, last_position, versions FROM inserted;
            tx := pg_current_xact_id()::text::bigint;\(notifying)
        END
        $strata$
        """
    }

    /// The notification channel of a schema's commits.
    static func channel(_ schema: String) -> String { "\(schema)_events" }
}
