// Event sources by their config kind, registered in one typed line (the interface: source.ts). An implementation
// is loaded when a source of its kind is opened (the Redis client only for a Redis source).
import type { SourceConfig } from './config.js';
import type { EventSource, SourceLogger } from './source.js';

type SourceKind = SourceConfig['kind'];
type SourceOpener<K extends SourceKind> = (cfg: Extract<SourceConfig, { kind: K }>, log: SourceLogger) => Promise<EventSource>;

export const SOURCES: { [K in SourceKind]: SourceOpener<K> } = {
  dir: async (cfg) => new (await import('./dir-source.js')).DirectorySource(cfg.path, { delimiter: cfg.delimiter }),
  redis: async (cfg, log) => new (await import('./redis-source.js')).RedisStreamSource(cfg, log),
};

export function openSource(cfg: SourceConfig, log: SourceLogger): Promise<EventSource> {
  return (SOURCES[cfg.kind] as SourceOpener<SourceKind>)(cfg, log);
}
