// Prometheus metrics of the service (prom-client, one registry per server so tests and reloads do not collide).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ScoreStats } from './scorer.js';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly latency: Histogram<'route' | 'status'>;
  readonly candidates: Histogram<'route'>;
  readonly unknown: Counter<'route'>;
  readonly lookups: Counter<'feature'>;
  readonly oov: Counter<'feature'>;
  readonly oovRate: Gauge;
  readonly model: Gauge<'version' | 'kind'>;
  readonly reloads: Counter<'result'>;
  readonly reloadFailures: Counter<'reason'>;
  readonly bundleVersion: Gauge;
  readonly userReps: Counter<'source'>;
  private lookupsTotal = 0;
  private oovTotal = 0;

  constructor(defaults = true) {
    const registers = [this.registry];
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'prerank_' });
    this.latency = new Histogram({ name: 'prerank_request_duration_seconds', help: 'Request latency by route and status code',
      labelNames: ['route', 'status'], buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers });
    this.candidates = new Histogram({ name: 'prerank_candidates_per_request', help: 'Candidates per scoring request',
      labelNames: ['route'], buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000], registers });
    this.unknown = new Counter({ name: 'prerank_unknown_candidates_total', help: 'Candidate ids the item store did not know', labelNames: ['route'], registers });
    this.lookups = new Counter({ name: 'prerank_feature_lookups_total', help: 'Vocabulary lookups of user-side features', labelNames: ['feature'], registers });
    this.oov = new Counter({ name: 'prerank_feature_oov_total', help: 'User-side feature values that mapped to OOV', labelNames: ['feature'], registers });
    const self = this;
    // gauges say how serving workers combine (src/serve/cluster.ts sums counters and histograms)
    this.oovRate = new Gauge({ name: 'prerank_oov_rate', help: 'OOV lookups / all lookups since start', registers, aggregator: 'average',
      collect() {
        this.set(self.lookupsTotal ? self.oovTotal / self.lookupsTotal : 0);
      } });
    this.model = new Gauge({ name: 'prerank_model_info', help: 'The model version being served (value 1)', labelNames: ['version', 'kind'], registers, aggregator: 'max' });
    this.userReps = new Counter({ name: 'prerank_user_reps_total', help: 'Two-tower requests by where the user rep came from (stored: a strategy\'s stored encoding; tower: the user tower)',
      labelNames: ['source'], registers });
    this.reloads = new Counter({ name: 'prerank_reloads_total', help: 'Bundle reloads by result', labelNames: ['result'], registers });
    this.reloadFailures = new Counter({ name: 'prerank_reload_failures_total',
      help: 'Bundle versions not served because loading failed, by reason (corrupt, missing, invalid, pointer, error)', labelNames: ['reason'], registers });
    this.bundleVersion = new Gauge({ name: 'prerank_bundle_version', help: 'Published version number (vNNNNNN) being served; 0 when the bundle is not a published version', registers, aggregator: 'min' });
  }

  observe(s: ScoreStats): void {
    this.candidates.observe({ route: s.route }, s.candidates);
    if (s.unknown) this.unknown.inc({ route: s.route }, s.unknown);
    if (s.userRep) this.userReps.inc({ source: s.userRep });
    for (const [f, n] of Object.entries(s.lookups)) {
      this.lookups.inc({ feature: f }, n);
      this.lookupsTotal += n;
    }
    for (const [f, n] of Object.entries(s.oovs)) {
      this.oov.inc({ feature: f }, n);
      this.oovTotal += n;
    }
  }

  setModel(version: string, kind: string): void {
    this.model.reset();
    this.model.set({ version, kind }, 1);
  }
}
