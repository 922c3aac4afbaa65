/**
 * The message-bus boundary. The rest of tokenwatch speaks to these small interfaces; the kafkajs
 * implementation is in `kafka.ts`, the only importer of kafkajs, so the client can be replaced
 * (e.g. by a librdkafka binding) without touching the pipeline.
 */

export interface BusRecord {
  topic: string;
  key: string | null;
  /** null = tombstone */
  value: string | null;
  headers?: Record<string, string>;
  partition?: number;
}

export interface BusMessage {
  key: string | null;
  value: Buffer | null;
  offset: string;
  timestamp: string;
  headers: Record<string, string>;
}

export interface BusBatch {
  topic: string;
  partition: number;
  messages: BusMessage[];
  /** next offset the broker has for this partition (high watermark) */
  highWatermark: string;
  /** keeps the group membership alive during long work; throws when a rebalance took the partition */
  heartbeat(): Promise<void>;
  /** false once the consumer is stopping */
  isRunning(): boolean;
  /** true when the partition was revoked while the batch ran, or a seek is pending for it */
  isStale(): boolean;
  /**
   * Hands the batch back unprocessed: the partition is paused and, once resumed, its messages are
   * fetched again from the last processed offset (e.g. while the partition's state is restored).
   */
  defer(): void;
}

/** What the group coordinator told this member at a (re)join. */
export interface AssignmentInfo {
  /** the member id; a new one means this instance left the group (e.g. session expired) in between */
  memberId: string;
}

export interface TopicPartitions {
  topic: string;
  partition: number;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  compacted?: boolean;
  config?: Record<string, string>;
}

export interface ProducerOptions {
  /** record-batch compression: none, gzip, snappy, lz4 or zstd (default none) */
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
}

export interface BusProducer {
  /** sends and waits for acknowledgement from all in-sync replicas */
  send(records: BusRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface BusConsumer {
  /**
   * Starts consuming; `onBatch` runs for one partition's batch at a time. When it returns, the
   * consumer moves past the batch; when it throws, the batch is fetched again. Commit offsets
   * yourself (after the batch's output is durable).
   */
  run(topics: string[], fromBeginning: boolean, onBatch: (b: BusBatch) => Promise<void>): Promise<void>;
  commit(topic: string, partition: number, nextOffset: string): Promise<void>;
  /** called with the partitions assigned after each rebalance */
  onAssignment(cb: (assigned: TopicPartitions[], info: AssignmentInfo) => void): void;
  /** called when the client learned of a rebalance, before it rejoins (its partitions may move) */
  onRebalancing(cb: () => void): void;
  /** stops fetching these partitions (a batch already handed out still runs) */
  pause(parts: TopicPartitions[]): void;
  resume(parts: TopicPartitions[]): void;
  /** the next fetch of the partition starts at `offset` */
  seek(topic: string, partition: number, offset: string): void;
  /** called when the consumer crashed; `willRestart` says whether the client restarts it by itself */
  onCrash(cb: (err: Error, willRestart: boolean) => void): void;
  stop(): Promise<void>;
}

/** A producer whose sends and consumer-offset commits land atomically (Kafka transactions). */
export interface BusTxProducer {
  /** in one transaction: the records, and the group's offsets (partition -> next offset) */
  commit(records: BusRecord[], offsets: { groupId: string; topics: Record<string, Record<number, string>> }): Promise<void>;
  close(): Promise<void>;
}

export interface Bus {
  ping(): Promise<void>;
  transactionalProducer(transactionalId: string, opts?: ProducerOptions): Promise<BusTxProducer>;
  /**
   * Reads a topic — or only `partitions` of it — from the beginning up to its end at call time
   * (read_committed), calling `onRecord` in offset order per partition. Used to restore state from
   * a changelog.
   */
  readToEnd(topic: string, onRecord: (r: { key: string | null; value: string | null; partition: number }) => void, partitions?: number[]): Promise<number>;
  /** number of partitions of a topic (0 when it does not exist) */
  partitionCount(topic: string): Promise<number>;
  /** grows a topic to `count` partitions (existing partitions and their data stay as they are) */
  addPartitions(topic: string, count: number): Promise<void>;
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  producer(opts?: ProducerOptions): Promise<BusProducer>;
  consumer(groupId: string, opts?: { maxWaitMs?: number; sessionTimeoutMs?: number; heartbeatMs?: number; maxBytesPerPartition?: number }): BusConsumer;
  /** committed offsets of a group for a topic: partition -> next offset ('-1' when none) */
  committedOffsets(groupId: string, topic: string): Promise<Record<number, string>>;
  /** high watermarks of a topic: partition -> next offset to be written */
  endOffsets(topic: string): Promise<Record<number, string>>;
  close(): Promise<void>;
}
