// The online trainer (`prerank train --online --config <file>`): starts from an offline model (a run directory, or
// one trained here on a time prefix of the data), then loops: read a batch of events from the source -> validate
// (bad events counted or fatal) -> encode (new users/items get entities and hashed ids) -> score the batch with the
// model as it is (prequential: test, then train) -> optimizer step(s) through the one training step
// (src/train/step.ts). Where the model starts is src/train/bootstrap.ts. Every M updates (or T seconds) the model, optimizer, RNG states and the source
// offset are saved TOGETHER as one atomically swapped directory (outDir/checkpoint), and only then is the source
// told to commit (Redis XACK); a restart resumes from that directory, so a kill -9 at any moment loses no event and
// applies none twice. Bundle versions are published every P updates (src/export/versions.ts). Shapes: B batch.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { noGrad, scope } from '../core/index.js';
import { featureColumn, type Dataset } from '../data/index.js';
import { auc } from '../eval/auc.js';
import type { RecModel } from '../models/types.js';
import type { Optimizer } from '../nn/index.js';
import { startingModel } from '../train/bootstrap.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import type { TrainConfig } from '../train/config.js';
import { RunLog } from '../train/run-log.js';
import { buildStrategy } from '../train/run.js';
import type { TrainingStrategy } from '../train/strategies/types.js';
import { trainStep } from '../train/step.js';
import { createOptimizer } from '../train/trainer.js';
import { fsyncPath, recoverSwap, writeDirAtomic, writeFileSynced } from '../util/atomic-dir.js';
import { loadOnlineConfig, type OnlineConfig } from './config.js';
import { OnlineEntities } from './entities.js';
import { EventDecoder, type OnlineEvent } from './events.js';
import { ItemRepCache, type RefreshResult } from './item-cache.js';
import { finiteOrNull, Prequential } from './prequential.js';
import { writeOnlineReport } from './report.js';
import type { EventSource } from './source.js';
import { openSource } from './sources.js';
import { STATE_VERSION, type OnlineOptions, type OnlineState, type OnlineSummary } from './state.js';

export { STATE_VERSION, type OnlineOptions, type OnlineState, type OnlineSummary, type ScoredBatch } from './state.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OnlineTrainer {
  readonly log: RunLog;
  private readonly ckptDir: string;
  private readonly preqPath: string;
  private readonly decoder: EventDecoder;
  private readonly entities: OnlineEntities;
  private prequential = new Prequential();
  private source!: EventSource;
  private resumed = false;
  private badLogged = 0;
  private itemCache: ItemRepCache | null = null;
  state: OnlineState;

  private constructor(readonly cfg: OnlineConfig, readonly trainCfg: TrainConfig, readonly data: Dataset, readonly model: RecModel,
    readonly optimizer: Optimizer, private readonly opts: OnlineOptions, readonly strategy?: TrainingStrategy) {
    this.log = new RunLog(join(cfg.outDir, 'log.jsonl'));
    this.ckptDir = join(cfg.outDir, 'checkpoint');
    this.preqPath = join(cfg.outDir, 'prequential.jsonl');
    this.decoder = new EventDecoder(data.config, cfg.timeTolerance);
    this.entities = new OnlineEntities(data);
    this.state = { version: STATE_VERSION, updates: 0, applied: 0, trained: 0, dropped: 0, bad: 0, offset: null, maxTime: null,
      prequential: this.prequential.toJSON(), entities: { users: [], items: [] }, published: null };
  }

  /** Prints (unless quiet) and logs one message. */
  say(msg: string, extra: Record<string, unknown> = {}): void {
    if (!this.cfg.quiet) console.error(`online: ${msg}`);
    this.log.write({ event: 'message', msg, ...extra });
  }

  static async create(cfg: OnlineConfig, opts: OnlineOptions = {}): Promise<OnlineTrainer> {
    await mkdir(cfg.outDir, { recursive: true });
    const ckptDir = join(cfg.outDir, 'checkpoint');
    const resuming = (await recoverSwap(ckptDir)) && existsSync(join(ckptDir, 'state.json'));
    const early = new RunLog(join(cfg.outDir, 'log.jsonl'));
    const say = (m: string) => {
      if (!cfg.quiet) console.error(`online: ${m}`);
      early.write({ event: 'message', msg: m });
    };
    const { trainCfg, data, model } = await startingModel(cfg.initial, { resuming, offlineDir: join(cfg.outDir, 'offline'), quiet: cfg.quiet, log: say });
    const strategy = await buildStrategy(trainCfg, model, data, true);
    const refusal = strategy?.onlineRefusal();
    if (strategy && refusal) throw new Error(`online: training strategy '${strategy.kind}' cannot train online: ${refusal}`);
    if (trainCfg.objective) throw new Error(`online: objective '${trainCfg.objective.kind}' cannot train online: its in-batch and sampled negatives and their log-Q come from the offline train split (remove \`objective\` from the train config)`);
    const optimizer = createOptimizer(model, { ...trainCfg.optimizer, ...cfg.optimizer }, strategy?.trainable(model));
    const t = new OnlineTrainer(cfg, trainCfg, data, model, optimizer, opts, strategy);
    const k = data.config.keys;
    for (const f of data.config.features) {
      if (f.kind === 'sparse' && !f.shareWith && [k.user, k.item].includes(featureColumn(f)) && !f.hashBuckets) {
        t.say(`feature '${f.name}' has no hashBuckets: users/items first seen online share its OOV row (add hashBuckets + maxSize to the data config)`);
      }
    }
    if (resuming) await t.restore();
    else {
      // A fresh start: records of a run killed before its first checkpoint describe updates that will be redone.
      writeFileSync(join(cfg.outDir, 'config.json'), JSON.stringify(cfg, null, 2));
      writeFileSync(t.preqPath, '');
    }
    t.source = await openSource(cfg.source, (m) => t.say(m));
    await t.source.open(t.state.offset);
    t.say(`${resuming ? 'resumed' : 'started'}: ${t.state.applied} events applied, ${t.state.updates} updates; reading ${t.source.description}`);
    return t;
  }

  private async restore(): Promise<void> {
    const st = JSON.parse(await readFile(join(this.ckptDir, 'state.json'), 'utf8')) as OnlineState;
    if (st.version !== STATE_VERSION) throw new Error(`${this.ckptDir}/state.json has version ${st.version}, expected ${STATE_VERSION}`);
    await loadCheckpoint(join(this.ckptDir, 'model'), this.model, this.optimizer, this.strategy);
    this.entities.restore(st.entities);
    this.decoder.maxTime = st.maxTime ?? -Infinity;
    this.prequential = Prequential.fromJSON(st.prequential);
    this.state = st;
    this.resumed = true;
    // Records written after this checkpoint belong to updates that will be redone: drop them (and a torn last line).
    if (existsSync(this.preqPath)) {
      const keep = readFileSync(this.preqPath, 'utf8').split('\n').filter((l) => {
        try {
          return (JSON.parse(l) as { update: number }).update <= st.updates;
        } catch {
          return false;
        }
      });
      writeFileSync(this.preqPath, keep.map((l) => `${l}\n`).join(''));
    }
    this.log.write({ event: 'resume', updates: st.updates, applied: st.applied, offset: st.offset });
  }

  private record(r: Record<string, unknown>): void {
    const fh = `${JSON.stringify(r)}\n`;
    writeFileSync(this.preqPath, fh, { flag: 'a' });
  }

  private badEvent(where: string, reason: string): void {
    if (this.cfg.onBadEvent === 'stop') throw new Error(`${where}: bad event: ${reason} (onBadEvent is "stop")`);
    this.state.bad++;
    if (this.badLogged < 20) {
      this.badLogged++;
      this.say(`bad event at ${where}: ${reason}${this.badLogged === 20 ? ' (further bad events are counted, not listed)' : ''}`, { where, reason });
    }
  }

  /** Score (prequential), then train on one batch of valid events. */
  private update(events: OnlineEvent[]): void {
    const { model, state, strategy } = this;
    const n = events.length;
    const b = this.entities.fill(events);
    const logits = new Float32Array(n);
    model.eval();
    noGrad(() => scope(() => {
      logits.set((strategy ? strategy.forward(model, b) : model.forward(b)).data.subarray(0, n));
    }));
    const labels = Float32Array.from(b.label.subarray(0, n));
    const u = state.updates + 1;
    for (let i = 0; i < n; i++) {
      const day = this.prequential.add(logits[i], labels[i], events[i].time);
      if (day) this.record({ ...day, update: u });
    }
    this.opts.onScored?.({ update: u, logits, labels, users: events.map((e) => e.user), items: events.map((e) => e.item) });
    let batchLoss = NaN;
    let bl = 0;
    for (let i = 0; i < n; i++) {
      const z = logits[i], y = labels[i];
      bl += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y * z;
    }
    model.train();
    if (this.cfg.learn) for (let s = 0; s < this.cfg.stepsPerBatch; s++) batchLoss = trainStep(model, this.optimizer, b, strategy, `online update ${u} (events up to ${events[n - 1].where})`);
    if (this.cfg.updateHistories) this.entities.observe(b, n);
    state.updates = u;
    state.trained += n;
    const tot = this.prequential.total;
    this.record({ kind: 'update', update: u, events: n, time: finiteOrNull(events[n - 1].time), batchAuc: finiteOrNull(auc(logits, labels)),
      batchLogloss: bl / n, auc: finiteOrNull(tot.auc()), logloss: finiteOrNull(tot.logloss()), scored: tot.events, trainLoss: finiteOrNull(batchLoss),
      bad: state.bad, newUsers: this.entities.users.added.length, newItems: this.entities.items.added.length });
  }

  /** Model + optimizer + RNGs + state (offset included) as one directory swapped in atomically; then the source commits. */
  async checkpoint(): Promise<void> {
    const st = this.state;
    st.prequential = this.prequential.toJSON();
    st.entities = this.entities.toJSON();
    st.maxTime = Number.isFinite(this.decoder.maxTime) ? this.decoder.maxTime : null;
    await writeDirAtomic(this.ckptDir, async (tmp) => {
      await saveCheckpoint(join(tmp, 'model'), this.model, this.optimizer, { epoch: -1, online: true, updates: st.updates }, this.strategy);
      await writeFileSynced(join(tmp, 'state.json'), JSON.stringify(st));
      await fsyncPath(tmp);
    });
    await fsyncPath(dirname(this.ckptDir));
    this.log.write({ event: 'checkpoint', updates: st.updates, applied: st.applied, offset: st.offset });
    if (st.offset) await this.source.commit(st.offset);
  }

  /** Publishes the current model as a new bundle version (src/export/versions.ts). */
  async publish(): Promise<number> {
    const p = this.cfg.publish;
    if (!p) throw new Error('online: no publish section in the config');
    const { publishVersion } = await import('../export/versions.js');
    const { exportBundle } = await import('../export/export-bundle.js');
    const ent = this.entities;
    let refresh: RefreshResult | null = null;
    if (this.model.twoTower && this.model.encodeItem) {
      this.itemCache ??= new ItemRepCache(this.model, ent);
      refresh = this.itemCache.refresh();
    }
    const items = { keys: ent.itemKeys(), batch: (c: number) => ent.itemBatch(c), fill: (b: Parameters<OnlineEntities['fillItems']>[0], ids: Int32Array) => ent.fillItems(b, ids),
      reps: refresh ? { data: refresh.reps, dim: refresh.dim } : undefined };
    const training = { online: { updates: this.state.updates, applied: this.state.applied, offset: this.state.offset, auc: finiteOrNull(this.prequential.total.auc()) } };
    const { version } = await publishVersion(p.dir, async (dir: string) => {
      await exportBundle({ model: this.model, dataset: this.data, config: this.trainCfg.model, training, items }, dir);
    });
    this.state.published = version;
    const reps = refresh ? { itemsRecomputed: refresh.recomputed, itemRefresh: refresh.mode } : {};
    this.log.write({ event: 'publish', version, updates: this.state.updates, items: items.keys.length, ...reps });
    if (!this.cfg.quiet) console.error(`online: published bundle version ${version} (update ${this.state.updates}, ${items.keys.length} items${refresh ? `; item table: ${refresh.mode}` : ''})`);
    return version;
  }

  async run(): Promise<OnlineSummary> {
    const { cfg, state } = this;
    const now = () => performance.now();
    // Idle = consecutive empty reads; a read that waits (a Redis outage) does not count as idle time.
    let idleSince: number | null = null;
    let lastCkpt = now(), lastPub = now();
    let sinceCkpt = 0, sincePub = 0, unsaved = false, thisRun = 0;
    try {
      for (;;) {
        if (this.opts.signal?.aborted) break;
        if (cfg.maxUpdates !== undefined && thisRun >= cfg.maxUpdates) break;
        const evs = await this.source.read(cfg.batchSize);
        if (!evs.length) {
          idleSince ??= now();
          if (cfg.stopWhenIdleMs !== undefined && now() - idleSince >= cfg.stopWhenIdleMs) break;
          if (cfg.source.kind === 'dir') await sleep(cfg.pollMs);
          continue;
        }
        idleSince = null;
        const good: OnlineEvent[] = [];
        for (const ev of evs) {
          const d = this.decoder.decode(ev);
          if (d.kind === 'bad') this.badEvent(ev.where, d.reason);
          else if (d.kind === 'dropped') state.dropped++;
          else good.push(d.event);
        }
        state.applied += evs.length;
        state.offset = evs[evs.length - 1].offset;
        unsaved = true;
        if (good.length) {
          this.update(good);
          thisRun++;
          sinceCkpt++;
          sincePub++;
        }
        const ck = cfg.checkpoint;
        if (sinceCkpt >= ck.everyUpdates || (ck.everySeconds !== undefined && now() - lastCkpt >= ck.everySeconds * 1000)) {
          await this.checkpoint();
          sinceCkpt = 0;
          unsaved = false;
          lastCkpt = now();
        }
        const p = cfg.publish;
        if (p && sincePub > 0 && (sincePub >= p.everyUpdates || (p.everySeconds !== undefined && now() - lastPub >= p.everySeconds * 1000))) {
          await this.publish();
          sincePub = 0;
          lastPub = now();
        }
      }
      if (unsaved) await this.checkpoint();
      if (cfg.publish && sincePub > 0) {
        await this.publish();
        await this.checkpoint();
      }
      const day = this.prequential.dayRecord();
      const tot = this.prequential.total;
      const label = cfg.label ?? basename(cfg.outDir);
      const summary = { label, learn: cfg.learn, updates: state.updates, applied: state.applied, trained: state.trained, bad: state.bad, dropped: state.dropped,
        newUsers: state.entities.users.length, newItems: state.entities.items.length, auc: finiteOrNull(tot.auc()), logloss: finiteOrNull(tot.logloss()), openDay: day };
      writeFileSync(join(cfg.outDir, 'summary.json'), JSON.stringify(summary, null, 1));
      writeOnlineReport(cfg.outDir, label, cfg.compare);
      this.log.write({ event: 'end', ...summary });
      return { state, resumed: this.resumed, updatesThisRun: thisRun, auc: finiteOrNull(tot.auc()), logloss: finiteOrNull(tot.logloss()) };
    } finally {
      await this.source.close();
    }
  }
}

/** `prerank train --online --config <file>`. */
export async function runOnline(configPath: string): Promise<OnlineSummary> {
  const cfg = loadOnlineConfig(configPath);
  const t = await OnlineTrainer.create(cfg);
  const r = await t.run();
  const s = r.state;
  console.log(`online: ${s.applied} events applied (${s.trained} trained, ${s.dropped} dropped by the label rule, ${s.bad} bad) in ${s.updates} updates; ` +
    `prequential AUC ${r.auc?.toFixed(5) ?? 'n/a'}, logloss ${r.logloss?.toFixed(5) ?? 'n/a'}; run in ${cfg.outDir}`);
  return r;
}
