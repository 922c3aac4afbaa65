/** Internal topic names (DESIGN §3: prefixed `tokenwatch.`, stable across releases) and the headers re-keying adds. */
import type { TopicSpec } from '../io/bus.js';

/** Name of the compacted changelog topic that backs the detectors' state (DESIGN §3). */
export function changelogTopic(groupId: string): string {
  return `tokenwatch.${groupId}.state-changelog`;
}

/** Internal topic the input is re-keyed through when TOKENWATCH_REKEY is on (DESIGN §3). */
export function repartitionTopic(groupId: string): string {
  return `tokenwatch.${groupId}.repartition`;
}

export const SRC_TOPIC_HEADER = 'tw-src-topic';
export const SRC_PARTITION_HEADER = 'tw-src-partition';
export const SRC_OFFSET_HEADER = 'tw-src-offset';

/** The denylist topic as tokenwatch creates it: compacted (DESIGN §6), so the latest record of a key is the state. */
export function denylistTopicSpec(topic: string): TopicSpec {
  return { topic, partitions: 3, compacted: true };
}
