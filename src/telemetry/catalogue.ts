/**
 * Every metric tokenwatch exports, written once (STYLE habit 10): name, type, help and the label
 * names it may carry. Call sites pass an entry of {@link METRICS} and get the label names checked
 * by the compiler; `/metrics` renders HELP and TYPE from here; docs/operations.md and
 * docs/bridge.md are checked against it (test/unit/metrics.test.ts). Labels are bounded sets
 * (detector, stage, reason, topic, partition, scope, outcome…), never a token, an IP or a key.
 */

export interface MetricDef<L extends string = string, T extends 'counter' | 'gauge' = 'counter' | 'gauge'> {
  name: string;
  type: T;
  help: string;
  labels: readonly L[];
}

const counter = <L extends string = never>(name: string, help: string, labels: readonly L[] = []): MetricDef<L, 'counter'> => ({ name, type: 'counter', help, labels });
const gauge = <L extends string = never>(name: string, help: string, labels: readonly L[] = []): MetricDef<L, 'gauge'> => ({ name, type: 'gauge', help, labels });

export const METRICS = {
  // processor: input and outcome of every message
  messages_total: counter('tokenwatch_messages_total', 'input messages consumed', ['topic']),
  events_total: counter('tokenwatch_events_total', 'events decoded and run through the detectors', ['stage']),
  dlq_total: counter('tokenwatch_dlq_total', 'messages sent to the dead-letter topic, by reason', ['reason']),
  quarantined_total: counter('tokenwatch_quarantined_total', 'secret-bearing messages, by reason and outcome (dropped, redacted_processed)', ['reason', 'outcome']),
  late_events_total: counter('tokenwatch_late_events_total', 'events later than the allowed lateness (processed best-effort)'),
  rekeyed_total: counter('tokenwatch_rekeyed_total', 'input events forwarded to the repartition topic (guarded canonical v1)'),
  // detection and response
  findings_total: counter('tokenwatch_findings_total', 'findings by detector and action', ['detector', 'action']),
  revocations_total: counter('tokenwatch_revocations_total', 'denylist records published, by detector and scope', ['detector', 'scope']),
  breaker_trips_total: counter('tokenwatch_breaker_trips_total', 'revocation circuit breaker trips', ['scope']),
  breaker_open: gauge('tokenwatch_breaker_open', 'revocation circuit breaker state (1 = open, alert-only)'),
  // sinks, state, consumers
  sink_errors_total: counter('tokenwatch_sink_errors_total', 'failed sink writes (retried), by sink', ['sink']),
  changelog_records_total: counter('tokenwatch_changelog_records_total', 'state changelog records written'),
  state_restore_seconds: gauge('tokenwatch_state_restore_seconds', 'time the last state restore took'),
  state_keys: gauge('tokenwatch_state_keys', 'tracked keys per detector, over the tasks this instance owns', ['detector']),
  tasks: gauge('tokenwatch_tasks', 'tasks (source partitions) this instance owns, by status (restoring, ready)', ['status']),
  state_evictions: gauge('tokenwatch_state_evictions', 'keys evicted since start, by reason (cap, ttl)', ['reason']),
  consumer_lag: gauge('tokenwatch_consumer_lag', 'messages behind the end of the input partition', ['topic', 'partition']),
  consumer_crashes_total: counter('tokenwatch_consumer_crashes_total', 'consumer crashes, by consumer and whether the client restarts it', ['consumer', 'restart']),
  consumer_dead: gauge('tokenwatch_consumer_dead', 'a consumer stopped for good (1): the process exits', ['consumer']),
  process_heap_bytes: gauge('tokenwatch_process_heap_bytes', 'V8 heap in use'),
  process_rss_bytes: gauge('tokenwatch_process_rss_bytes', 'resident set size'),
  // denylist-server (the gateway bridge)
  bridge_checks_total: counter('tokenwatch_bridge_checks_total', 'denylist checks by result (allow, deny, no_identifier, not_ready)', ['result']),
  bridge_records_total: counter('tokenwatch_bridge_records_total', 'denylist records applied, by outcome (added, removed, expired, invalid, ignored)', ['outcome']),
  bridge_entries: gauge('tokenwatch_bridge_entries', 'active denylist entries in memory, by scope', ['scope']),
  bridge_expired_total: counter('tokenwatch_bridge_expired_total', 'entries dropped from memory because they expired'),
  bridge_ready: gauge('tokenwatch_bridge_ready', '1 once the denylist topic was read to its end'),
  bridge_lag: gauge('tokenwatch_bridge_lag', 'denylist records behind the topic end'),
  bridge_apply_delay_ms: gauge('tokenwatch_bridge_apply_delay_ms', 'time from a record being published to it being applied (last record)'),
  bridge_unfingerprinted_total: counter('tokenwatch_bridge_unfingerprinted_total', 'raw credentials that could not be fingerprinted (TOKENWATCH_FP_KEY not set)'),
  bridge_follower_crashes_total: counter('tokenwatch_bridge_follower_crashes_total', 'crashes of the denylist follower, by whether the client restarts it', ['restart']),
} as const;

export type MetricKey = keyof typeof METRICS;

