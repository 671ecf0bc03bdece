// Raw source events -> validated interaction events, against the data config the model was trained with. Known
// fields: the user/item/time keys, the label column (its rule and drop list apply) or a ready `label` in [0, 1], the
// weight column, and the columns of the features (user and item columns describe a new user or item). Anything
// else, a wrong type, a missing key or a timestamp more than `timeTolerance` seconds before the latest one seen is a
// bad event with a reason; the trainer counts it (or stops, naming file:line).
import type { DataConfig } from '../data/index.js';
import { featureColumn } from '../data/spec.js';
import { own } from '../util/own.js';
import type { SourceEvent } from './source.js';

export interface OnlineEvent {
  user: string;
  item: string;
  /** Seconds (the data's time unit); NaN when the data config has no time key. */
  time: number;
  label: number;
  weight: number;
  fields: Record<string, unknown>;
  where: string;
}

export type Decoded = { kind: 'event'; event: OnlineEvent } | { kind: 'dropped' } | { kind: 'bad'; reason: string };

const OPS: Record<string, (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b, '>=': (a, b) => a >= b, '<': (a, b) => a < b, '<=': (a, b) => a <= b, '==': (a, b) => a === b, '!=': (a, b) => a !== b,
};

export class EventDecoder {
  private readonly known: Set<string>;
  private readonly numeric: Set<string>;
  private readonly text: Set<string>;
  /** The latest timestamp accepted so far (checkpointed). */
  maxTime = -Infinity;

  constructor(private readonly cfg: DataConfig, private readonly timeTolerance: number) {
    const k = cfg.keys;
    this.known = new Set([k.user, k.item, 'label']);
    this.numeric = new Set();
    this.text = new Set([k.user, k.item]);
    if (k.time) this.numeric.add(k.time);
    if (cfg.label.column) this.numeric.add(cfg.label.column);
    if (cfg.weight) this.numeric.add(cfg.weight.column);
    if (cfg.sources.users?.key) this.text.add(cfg.sources.users.key);
    if (cfg.sources.items?.key) this.text.add(cfg.sources.items.key);
    for (const f of cfg.features) {
      if (f.kind === 'dense') this.numeric.add(featureColumn(f));
      else if (f.kind === 'sequence' && f.flagColumns) for (const c of f.flagColumns) this.numeric.add(c);
      else if (f.kind === 'sparse') this.text.add(featureColumn(f));
    }
    for (const s of [this.numeric, this.text]) for (const c of s) this.known.add(c);
    for (const f of cfg.features) if (f.kind === 'sequence' && !f.flagColumns) this.known.add(featureColumn(f));
  }

  /** The field names an event may carry. */
  get fields(): string[] {
    return [...this.known].sort();
  }

  decode(ev: SourceEvent): Decoded {
    if (!ev.fields) return { kind: 'bad', reason: ev.error ?? 'unreadable' };
    const f = ev.fields;
    const bad = (reason: string): Decoded => ({ kind: 'bad', reason });
    for (const name of Object.keys(f)) if (!this.known.has(name)) return bad(`unknown field '${name}' (known: ${this.fields.join(', ')})`);
    for (const [name, v] of Object.entries(f)) {
      if (v === null || v === undefined || v === '') continue;
      if (this.numeric.has(name)) {
        if (ev.typed ? typeof v !== 'number' : !Number.isFinite(Number(v))) return bad(`field '${name}' must be a number, got ${JSON.stringify(v)}`);
      } else if (this.text.has(name) && ev.typed && typeof v !== 'string' && typeof v !== 'number') return bad(`field '${name}' must be a string or a number, got ${JSON.stringify(v)}`);
      else if (ev.typed && typeof v === 'object' && !(Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))) {
        return bad(`field '${name}' must be a string, a number or a list of them, got ${JSON.stringify(v)}`);
      }
    }
    const k = this.cfg.keys;
    /** A field's value; null when the event lacks it or it is empty. */
    const field = (name: string): unknown => {
      const v = own(f, name);
      return v === undefined || v === null || v === '' ? null : v;
    };
    const key = (name: string): string | null => {
      const v = field(name);
      return v === null ? null : String(v);
    };
    const user = key(k.user);
    const item = key(k.item);
    if (user === null) return bad(`missing '${k.user}' (the user key)`);
    if (item === null) return bad(`missing '${k.item}' (the item key)`);
    let time = NaN;
    if (k.time) {
      if (field(k.time) === null) return bad(`missing '${k.time}' (the timestamp)`);
      time = Number(field(k.time));
      if (time < this.maxTime - this.timeTolerance) {
        return bad(`timestamp ${time} is ${this.maxTime - time} s before the latest one seen (${this.maxTime}); the tolerance is ${this.timeTolerance} s`);
      }
    }
    let label: number;
    const lc = this.cfg.label.column;
    if (lc && field(lc) !== null) {
      const v = Number(field(lc));
      if (this.cfg.label.drop.includes(v)) return { kind: 'dropped' };
      const r = this.cfg.label.rule;
      label = r ? (OPS[r.op](v, r.value) ? 1 : 0) : v;
    } else if (field('label') !== null) {
      label = Number(field('label'));
      if (!(label >= 0 && label <= 1)) return bad(`field 'label' must be a number in [0, 1], got ${JSON.stringify(field('label'))}`);
    } else if (lc) return bad(`missing '${lc}' (the label column) and no 'label'`);
    else label = 1;
    if (!(label >= 0 && label <= 1)) return bad(`label ${label} from '${lc}' is not in [0, 1] (add a label rule to the data config)`);
    const wc = this.cfg.weight?.column;
    const weight = wc && field(wc) !== null ? Number(field(wc)) : 1;
    if (Number.isFinite(time) && time > this.maxTime) this.maxTime = time;
    return { kind: 'event', event: { user, item, time, label, weight, fields: f, where: ev.where } };
  }
}
