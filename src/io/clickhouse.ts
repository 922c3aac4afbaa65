/**
 * ClickHouse: migrations and the alerts sink. Rows are inserted in batches as JSONEachRow; the
 * table is a ReplacingMergeTree keyed by the deterministic alert id, so a replay that re-inserts an
 * alert never shows it twice in the deduplicated query (`FINAL`).
 */
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { MIGRATIONS, type Migration } from '../../schemas/clickhouse/migrations.js';
import { TokenwatchError } from '../../schemas/errors.js';
import type { Logger } from '../telemetry/log.js';
import { chDateTime, type AlertRow } from '../../schemas/alert.js';

export interface ClickHouseOptions {
  url: string;
  database: string;
  username: string;
  password: string;
}

export class AlertStore {
  readonly client: ClickHouseClient;
  private serverVersion: [number, number] = [0, 0];

  constructor(
    private readonly opts: ClickHouseOptions,
    private readonly log: Logger,
  ) {
    this.client = createClient({
      url: opts.url,
      username: opts.username,
      password: opts.password,
      request_timeout: 30_000,
      compression: { request: false, response: false },
      // failures surface as TokenwatchErrors through our own logger; the client's logger stays quiet
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  get database(): string {
    return this.opts.database;
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) {
      throw new TokenwatchError('CLICKHOUSE_UNAVAILABLE', `cannot reach ClickHouse at ${this.opts.url} (CLICKHOUSE_URL): ${String((r as { error?: Error }).error?.message ?? 'no answer')}`, {
        cause: (r as { error?: Error }).error,
      });
    }
    const v = await this.query<{ v: string }>('SELECT version() AS v');
    const [maj, min] = (v[0]?.v ?? '0.0').split('.').map(Number);
    this.serverVersion = [maj ?? 0, min ?? 0];
  }

  get version(): [number, number] {
    return this.serverVersion;
  }

  async query<T>(sql: string): Promise<T[]> {
    const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
    return (await rs.json()) as T[];
  }

  async command(sql: string): Promise<void> {
    await this.client.command({ query: sql });
  }

  private supports(m: Migration): boolean {
    if (!m.minServer) return true;
    const [a, b] = this.serverVersion;
    return a > m.minServer[0] || (a === m.minServer[0] && b >= m.minServer[1]);
  }

  /**
   * Creates the database and applies pending migrations in order. Idempotent; safe to run from
   * several instances at once (every statement is IF NOT EXISTS or repeatable).
   */
  async migrate(retentionDays: number): Promise<{ applied: number[]; skipped: number[] }> {
    const db = this.opts.database;
    try {
      if (this.serverVersion[0] === 0) await this.ping();
      await this.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
      await this.command(
        `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, status String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
      );
      const done = new Set((await this.query<{ version: number }>(`SELECT version FROM ${db}.schema_migrations`)).map((r) => Number(r.version)));
      const applied: number[] = [];
      const skipped: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        const ok = this.supports(m);
        if (ok) {
          for (const stmt of m.up) {
            await this.command(stmt.replaceAll('{db}', db).replaceAll('{retentionDays}', String(retentionDays)));
          }
        }
        await this.client.insert({
          table: `${db}.schema_migrations`,
          values: [{ version: m.version, name: m.name, status: ok ? 'applied' : 'skipped: server too old', applied_at: chDateTime(Date.now()) }],
          format: 'JSONEachRow',
        });
        (ok ? applied : skipped).push(m.version);
        this.log.info({ migration: m.version, name: m.name, status: ok ? 'applied' : 'skipped' }, 'clickhouse migration');
      }
      return { applied, skipped };
    } catch (e) {
      if (e instanceof TokenwatchError) throw e;
      throw new TokenwatchError('MIGRATION_FAILED', `ClickHouse migration failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Retention that works on every server: drops monthly partitions whose whole month lies before
   * the retention horizon. Servers with TTL support also expire rows by TTL (migration 2).
   */
  async enforceRetention(retentionDays: number, nowMs: number): Promise<string[]> {
    const horizon = new Date(nowMs - retentionDays * 86_400_000);
    const keepFrom = horizon.getUTCFullYear() * 100 + horizon.getUTCMonth() + 1;
    const parts = await this.query<{ partition: string }>(
      `SELECT DISTINCT partition FROM system.parts WHERE database = '${this.opts.database}' AND table = 'alerts' AND active`,
    );
    const dropped: string[] = [];
    for (const { partition } of parts) {
      const p = Number(partition.replace(/'/g, ''));
      if (Number.isFinite(p) && p < keepFrom) {
        await this.command(`ALTER TABLE ${this.opts.database}.alerts DROP PARTITION ${p}`);
        dropped.push(String(p));
      }
    }
    return dropped;
  }

  /** Inserts alert rows; throws SINK_WRITE_FAILED (retriable) when ClickHouse refuses. */
  async insertAlerts(rows: AlertRow[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.client.insert({ table: `${this.opts.database}.alerts`, values: rows, format: 'JSONEachRow' });
    } catch (e) {
      throw new TokenwatchError('SINK_WRITE_FAILED', `ClickHouse insert of ${rows.length} alert(s) failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
