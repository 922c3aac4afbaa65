/** Internal topic names (DESIGN §3: prefixed `tokenwatch.`, stable across releases) and the headers re-keying adds. */

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

export { denylistTopicSpec } from '../../schemas/denylist.js';
