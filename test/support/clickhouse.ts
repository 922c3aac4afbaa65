/** ClickHouse from the test's side: the alert rows a test's processor wrote, read with a plain client (not the code under test). */
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { TestEnv } from './services.js';

export function chClient(t: TestEnv): ClickHouseClient {
  return createClient({ url: t.ep.clickhouseUrl });
}

/** Runs one query with a client of its own; the rows as JSON objects. */
export async function queryRows<T = Record<string, unknown>>(t: TestEnv, query: string): Promise<T[]> {
  const c = chClient(t);
  try {
    const rs = await c.query({ query, format: 'JSONEachRow' });
    return (await rs.json()) as T[];
  } finally {
    await c.close();
  }
}

/** The test's alert rows after deduplication (FINAL), in event-time order. */
export async function alertRows(t: TestEnv, where = '1'): Promise<Array<Record<string, unknown>>> {
  return queryRows(t, `SELECT * FROM ${t.database}.alerts FINAL WHERE ${where} ORDER BY event_time_ms, alert_id`);
}

export async function alertIdsInClickHouse(t: TestEnv): Promise<string[]> {
  return (await queryRows<{ alert_id: string }>(t, `SELECT alert_id FROM ${t.database}.alerts FINAL`)).map((r) => r.alert_id);
}

/** Alert ids present more than once even after FINAL. */
export async function duplicateAlerts(t: TestEnv): Promise<Array<{ alert_id: string; n: string }>> {
  return queryRows(t, `SELECT alert_id, count() AS n FROM ${t.database}.alerts FINAL GROUP BY alert_id HAVING count() > 1`);
}

/** Rows in the table before deduplication (re-inserts from replays show here, not in FINAL). */
export async function rawAlertRows(t: TestEnv): Promise<number> {
  return Number((await queryRows<{ n: string }>(t, `SELECT count() AS n FROM ${t.database}.alerts`))[0]?.n ?? 0);
}

export async function dropDatabase(t: TestEnv): Promise<void> {
  const c = chClient(t);
  await c.command({ query: `DROP DATABASE IF EXISTS ${t.database}` }).catch(() => undefined);
  await c.close();
}
