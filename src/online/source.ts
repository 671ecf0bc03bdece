// Event sources for online training: one interface, two implementations (a directory of appended CSV/JSONL files,
// dir-source.ts; a Redis Stream read through a consumer group, redis-source.ts), opened by config kind in
// sources.ts. A source hands out raw events in time order with their offsets; the trainer commits an offset only
// once a checkpoint that includes every event up to it is durable, and reopens the source after the checkpoint's
// offset on restart: no event lost or applied twice.

/** Directory source: the file, the event's 1-based line and the byte just after its newline. */
export interface DirOffset {
  kind: 'dir';
  file: string;
  line: number;
  byte: number;
}

/** Redis source: the stream entry id (ms-seq). */
export interface RedisOffset {
  kind: 'redis';
  id: string;
}

export type SourceOffset = DirOffset | RedisOffset;

export interface SourceEvent {
  /** Committing this offset commits this event and every one before it. */
  offset: SourceOffset;
  /** Where it came from, for messages: `file:line` or `stream id`. */
  where: string;
  /** The event's fields; absent when the line could not be parsed (then `error` says why). */
  fields?: Record<string, unknown>;
  error?: string;
  /** True when values keep JSON types; false when every value is text (CSV lines, Redis fields). */
  typed: boolean;
}

export interface EventSource {
  readonly description: string;
  /** Positions the source just after `after` (null: the beginning). Called once, before read. */
  open(after: SourceOffset | null): Promise<void>;
  /** Up to `max` next events in order; an empty array when none is ready now. */
  read(max: number): Promise<SourceEvent[]>;
  /** Every event up to and including `offset` is durably applied (in a checkpoint). */
  commit(offset: SourceOffset): Promise<void>;
  close(): Promise<void>;
}

export type SourceLogger = (msg: string) => void;
