/** Internal topic names (DESIGN §3: prefixed `tokenwatch.`, stable across releases) and the headers re-keying adds. */

/**
 * Name of the compacted changelog topic that backs the state of the tasks of one source topic
 * (DESIGN §3): partitioned like the source, partition p holding the state of the task of source
 * partition p. `tokenwatch.<group>.<source>.state-changelog`; for the repartition topic (already
 * `tokenwatch.<group>.repartition`), `tokenwatch.<group>.repartition.state-changelog`.
 */
export function changelogTopic(groupId: string, sourceTopic: string): string {
  const own = `tokenwatch.${groupId}.`;
  return `${sourceTopic.startsWith(own) ? sourceTopic : own + sourceTopic}.state-changelog`;
}

/** Internal topic the input is re-keyed through when TOKENWATCH_REKEY is on (DESIGN §3). */
export function repartitionTopic(groupId: string): string {
  return `tokenwatch.${groupId}.repartition`;
}

export const SRC_TOPIC_HEADER = 'tw-src-topic';
export const SRC_PARTITION_HEADER = 'tw-src-partition';
export const SRC_OFFSET_HEADER = 'tw-src-offset';

export { denylistTopicSpec } from '../../schemas/denylist.js';
