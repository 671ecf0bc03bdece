// Users and items of an online run: the dataset's entities (encoded offline) plus the ones first seen in the stream,
// appended in arrival order. New entities are encoded with the training encoders from the event's own fields
// (missing columns -> OOV / the fitted fill value; statistics -> the global fallback; history -> empty). Their id
// features get an id without a restart through the vocabulary's hash buckets (docs/ONLINE.md says why hashing),
// so no embedding table changes shape. Fills model batches for events and item batches for the bundle's item table.
// Shapes: B batch, L a sequence feature's maxLen.
import { allocBatch, BatchFiller, headOf, type Batch } from '../data/batch.js';
import type { Dataset, EncodedRow, FeatureInfo } from '../data/index.js';
import { featureColumn } from '../data/spec.js';
import type { OnlineEvent } from './events.js';

type Side = 'user' | 'item';

export interface NewEntityJson {
  key: string;
  fields: Record<string, unknown>;
}

class Side$ {
  readonly index: Map<string, number>;
  readonly added: NewEntityJson[] = [];
  readonly rows: EncodedRow[] = [];

  constructor(readonly ds: Dataset, readonly side: Side, private readonly columns: Set<string>) {
    const keys = side === 'user' ? ds.userKeys : ds.itemKeys;
    this.index = new Map(keys.map((k, i) => [k, i]));
  }

  get base(): number {
    return this.side === 'user' ? this.ds.userCount : this.ds.itemCount;
  }

  get count(): number {
    return this.base + this.added.length;
  }

  /** The entity index of a key, adding it (encoded from the event's side fields) when new. */
  lookup(key: string, fields: Record<string, unknown>): number {
    const at = this.index.get(key);
    if (at !== undefined) return at;
    return this.add({ key, fields: Object.fromEntries(Object.entries(fields).filter(([k]) => this.columns.has(k))) });
  }

  add(e: NewEntityJson): number {
    const keyCol = this.ds.config.keys[this.side];
    const at = this.count;
    this.index.set(e.key, at);
    this.added.push(e);
    this.rows.push(this.ds.encoders.encodeRow({ ...e.fields, [keyCol]: e.key }, [this.side]));
    return at;
  }

  key(i: number): string {
    return i < this.base ? (this.side === 'user' ? this.ds.userKeys[i] : this.ds.itemKeys[i]) : this.added[i - this.base].key;
  }
}

/** Writes an encoded row's features into slot i of b (only the features the row has). */
function writeRow(b: Batch, i: number, row: EncodedRow): void {
  for (const [k, v] of Object.entries(row.sparse)) if (b.sparse[k]) b.sparse[k][i] = v;
  for (const [k, v] of Object.entries(row.dense)) if (b.dense[k]) b.dense[k][i] = v;
  for (const [k, ids] of Object.entries(row.sequence)) {
    const s = b.sequence[k];
    if (!s) continue;
    const n = Math.min(ids.length, s.maxLen);
    s.ids.fill(0, i * s.maxLen, (i + 1) * s.maxLen);
    s.ids.set(ids.subarray(0, n), i * s.maxLen);
    s.lengths[i] = n;
  }
}

/** A history feature (e.g. liked_movies): its name, max length and the item feature whose ids it holds. */
interface HistoryFeature {
  name: string;
  maxLen: number;
  itemFeature: string;
}

export type HistoriesJson = Record<string, [user: number, ids: number[]][]>;

export class OnlineEntities {
  readonly users: Side$;
  /** Per history feature: users whose history grew online -> their ids, oldest first (at most maxLen). */
  private readonly histories = new Map<string, Map<number, number[]>>();
  private readonly historyFeatures: HistoryFeature[];
  readonly items: Side$;
  private readonly userFiller: BatchFiller;
  private readonly itemFiller: BatchFiller;
  private readonly hasContext: boolean;
  private batch: Batch | null = null;
  private itemBuf: Batch | null = null;

  constructor(readonly ds: Dataset) {
    const cols = (side: Side): Set<string> => {
      const s = new Set<string>();
      for (const f of ds.config.features) {
        if (f.source !== side) continue;
        if (f.kind === 'sequence' && f.flagColumns) f.flagColumns.forEach((c) => s.add(c));
        else s.add(featureColumn(f));
      }
      return s;
    };
    this.users = new Side$(ds, 'user', cols('user'));
    this.items = new Side$(ds, 'item', cols('item'));
    this.userFiller = new BatchFiller(ds, ['user']);
    this.itemFiller = new BatchFiller(ds, ['item']);
    this.hasContext = ds.features.some((f) => f.source === 'context');
    this.historyFeatures = ds.config.derived.filter((d) => d.kind === 'history')
      .map((d) => ({ name: d.name, maxLen: d.maxLen, itemFeature: d.shareWith }));
    for (const h of this.historyFeatures) this.histories.set(h.name, new Map());
  }

  get features(): FeatureInfo[] {
    return this.ds.features;
  }

  toJSON(): { users: NewEntityJson[]; items: NewEntityJson[]; histories: HistoriesJson } {
    const histories: HistoriesJson = {};
    for (const [name, m] of this.histories) histories[name] = [...m].sort((a, b) => a[0] - b[0]);
    return { users: this.users.added, items: this.items.added, histories };
  }

  /** Re-adds the new entities of a checkpoint, in their order (so their indices are the same), and the online histories. */
  restore(j: { users: NewEntityJson[]; items: NewEntityJson[]; histories?: HistoriesJson }): void {
    if (this.users.added.length || this.items.added.length) throw new Error('OnlineEntities.restore: entities were already added');
    for (const e of j.users) this.users.add(e);
    for (const e of j.items) this.items.add(e);
    for (const [name, list] of Object.entries(j.histories ?? {})) {
      const m = this.histories.get(name);
      if (!m) throw new Error(`checkpoint has online history '${name}', which the data config does not define`);
      for (const [u, ids] of list) m.set(u, ids);
    }
  }

  /**
   * After a batch was scored and trained on: its positives join their users' histories (the batch itself saw the
   * histories from before it, as a causal offline row does). b must be the batch fill() returned for `events`.
   */
  observe(b: Batch, n: number): void {
    for (const h of this.historyFeatures) {
      const m = this.histories.get(h.name)!;
      const seq = b.sequence[h.name];
      const ids = b.sparse[h.itemFeature];
      if (!seq || !ids) continue;
      for (let i = 0; i < n; i++) {
        if (!(b.label[i] > 0.5)) continue;
        const u = b.user[i];
        let list = m.get(u);
        if (!list) {
          // Starts from what the batch held for this user: the offline history (or the empty one of a new user).
          list = Array.from(seq.ids.subarray(i * seq.maxLen, i * seq.maxLen + seq.lengths[i]));
          m.set(u, list);
        }
        list.push(ids[i]);
        if (list.length > h.maxLen) list.splice(0, list.length - h.maxLen);
      }
    }
  }

  /**
   * A batch for events[0..B): dataset entities are gathered from the encoded tables (histories: the user's last
   * train positives, as at serving), new ones written from their encoded rows, context features encoded per event.
   * The returned batch is reused by the next call. b.user / b.item hold online entity indices.
   */
  fill(events: OnlineEvent[]): Batch {
    const n = events.length;
    if (!this.batch || this.batch.label.length < n) this.batch = allocBatch(this.ds.features, Math.max(n, 1), !!this.ds.weight);
    const b = n === this.batch.label.length ? this.batch : headOf(this.batch, n);
    const users = new Int32Array(n);
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const e = events[i];
      users[i] = this.users.lookup(e.user, e.fields);
      items[i] = this.items.lookup(e.item, e.fields);
      b.rows[i] = -1;
      b.label[i] = e.label;
      if (b.weight) b.weight[i] = e.weight;
      // Placeholders for new entities (their slots are overwritten below); the fillers read only dataset entities.
      b.user[i] = users[i] < this.users.base ? users[i] : 0;
      b.item[i] = items[i] < this.items.base ? items[i] : 0;
    }
    this.userFiller.fillEntities(b, n);
    this.itemFiller.fillEntities(b, n);
    for (let i = 0; i < n; i++) {
      if (users[i] >= this.users.base) writeRow(b, i, this.users.rows[users[i] - this.users.base]);
      if (items[i] >= this.items.base) writeRow(b, i, this.items.rows[items[i] - this.items.base]);
      if (this.hasContext) writeRow(b, i, this.ds.encoders.encodeRow(events[i].fields, ['context']));
      for (const h of this.historyFeatures) {
        const list = this.histories.get(h.name)!.get(users[i]);
        const s = b.sequence[h.name];
        if (!list || !s) continue;
        s.ids.fill(0, i * s.maxLen, (i + 1) * s.maxLen);
        s.ids.set(list.slice(-s.maxLen), i * s.maxLen);
        s.lengths[i] = Math.min(list.length, s.maxLen);
      }
    }
    b.user.set(users);
    b.item.set(items);
    return b;
  }

  /** Every item key (dataset items, then new ones): the bundle's item ids. */
  itemKeys(): string[] {
    return Array.from({ length: this.items.count }, (_, i) => this.items.key(i));
  }

  /** An item batch buffer for `capacity` items. */
  itemBatch(capacity: number): Batch {
    return allocBatch(this.ds.features.filter((f) => f.source === 'item'), capacity);
  }

  /** Item-side features of online item indices ids[0..n) into b. */
  fillItems(b: Batch, ids: ArrayLike<number>, n = ids.length): Batch {
    const out = n === b.label.length ? b : headOf(b, n);
    for (let i = 0; i < n; i++) out.item[i] = ids[i] < this.items.base ? ids[i] : 0;
    this.itemFiller.fillEntities(out, n);
    for (let i = 0; i < n; i++) {
      if (ids[i] >= this.items.base) writeRow(out, i, this.items.rows[ids[i] - this.items.base]);
      out.item[i] = ids[i];
    }
    return out;
  }
}
