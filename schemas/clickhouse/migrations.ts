/**
 * Versioned ClickHouse migrations for the alerts store (DESIGN §5). Applied in order at start-up
 * and by `tokenwatch migrate`; each is idempotent. The DDL runs on Debian's ClickHouse 18.16 (no
 * TTL, DateTime64, LowCardinality) and on current releases; a step that needs a newer server says
 * so with `minServer` and is recorded as skipped on older ones (retention then falls back to
 * dropping old monthly partitions, see src/io/clickhouse.ts).
 */

export interface Migration {
  version: number;
  name: string;
  /** statements, `{db}` replaced by the database name */
  up: string[];
  /** [major, minor] of the oldest server that supports the statements */
  minServer?: [number, number];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'alerts table',
    up: [
      `CREATE TABLE IF NOT EXISTS {db}.alerts (
        alert_id String,
        detector String,
        severity String,
        action String,
        event_time DateTime,
        event_time_ms UInt64,
        detected_at DateTime,
        tenant String,
        subject String,
        credential_type String,
        credential_fp String,
        key_id String,
        session_id String,
        ips Array(String),
        countries Array(String),
        asns Array(UInt32),
        summary String,
        evidence String,
        revocation_ids Array(String),
        source String,
        keep_first UInt64
      ) ENGINE = ReplacingMergeTree(keep_first)
      PARTITION BY toYYYYMM(event_time)
      ORDER BY (detector, alert_id)`,
    ],
  },
  {
    version: 2,
    name: 'alerts retention by TTL (servers with TTL support)',
    minServer: [19, 6],
    up: [`ALTER TABLE {db}.alerts MODIFY TTL event_time + INTERVAL {retentionDays} DAY`],
  },
];
