/** The pipeline's public surface: the processor behind `tokenwatch run`, the hot path it shares with `replay`, re-keying and internal topics. */
export { Processor } from './processor.js';
export { BatchProcessor, type BatchOutput, type ProcessorDeps } from './batch.js';
export { Rekeyer, routingKey } from './rekey.js';
export { changelogTopic, denylistTopicSpec, repartitionTopic, SRC_OFFSET_HEADER, SRC_PARTITION_HEADER, SRC_TOPIC_HEADER } from './topics.js';
export { replay, openInput, type ReplayOptions, type ReplaySummary } from './replay.js';
