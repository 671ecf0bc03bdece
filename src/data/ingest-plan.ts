// Which file each configured column comes from, checked against the files' real columns before anything is read.
import { DataError } from './data-error.js';
import type { SqlType } from './duck-source.js';
import { featureColumn, type DataConfig } from './spec.js';

export type EntitySide = 'user' | 'item';
/** Where an entity column is read: the key itself, the users/items file, a list source, or the interactions. */
export type EntityOrigin = { from: 'key' } | { from: 'table' } | { from: 'list'; list: number } | { from: 'events' };

export interface IngestPlan {
  interactions: Map<string, SqlType>;
  users: Map<string, SqlType>;
  items: Map<string, SqlType>;
  lists: Map<string, SqlType>[];
  entity: Record<EntitySide, Map<string, { origin: EntityOrigin; type: SqlType }>>;
  /** Per-row columns: context features and numeric columns of derived statistics. */
  rowColumns: Map<string, SqlType>;
}

export interface Available {
  interactions: string[];
  users?: string[];
  items?: string[];
  lists: string[][];
}

type Need = { source: 'user' | 'item' | 'row'; column: string; type: SqlType; what: string };

export function planIngest(cfg: DataConfig, av: Available): IngestPlan {
  const plan: IngestPlan = { interactions: new Map(), users: new Map(), items: new Map(),
    lists: cfg.sources.lists.map(() => new Map()), entity: { user: new Map(), item: new Map() }, rowColumns: new Map() };
  const want = (m: Map<string, SqlType>, c: string, t: SqlType): void => {
    if (m.get(c) !== 'DOUBLE') m.set(c, t);
  };
  const missing: string[] = [];
  for (const need of needs(cfg)) {
    if (need.source === 'row') {
      if (!av.interactions.includes(need.column)) missing.push(`${need.what} names column "${need.column}"`);
      want(plan.interactions, need.column, need.type);
      if (need.what.startsWith('feature') || need.what.startsWith('stat')) want(plan.rowColumns, need.column, need.type);
      continue;
    }
    const side = need.source;
    const key = side === 'user' ? cfg.keys.user : cfg.keys.item;
    const table = side === 'user' ? cfg.sources.users : cfg.sources.items;
    const tableCols = side === 'user' ? av.users : av.items;
    let origin: EntityOrigin | undefined;
    if (need.column === key || (table && need.column === table.key)) origin = { from: 'key' };
    else if (tableCols?.includes(need.column)) {
      origin = { from: 'table' };
      want(side === 'user' ? plan.users : plan.items, need.column, need.type);
    } else {
      const li = cfg.sources.lists.findIndex((l) => l.side === side && l.as === need.column);
      if (li >= 0) origin = { from: 'list', list: li };
      else if (av.interactions.includes(need.column)) {
        origin = { from: 'events' };
        want(plan.interactions, need.column, need.type);
      }
    }
    if (!origin) missing.push(`${need.what} names column "${need.column}" (${side} side)`);
    else if (origin.from === 'key' && need.type === 'DOUBLE') missing.push(`${need.what} uses key "${need.column}" as a number`);
    else {
      const prev = plan.entity[side].get(need.column);
      plan.entity[side].set(need.column, { origin, type: prev?.type === 'DOUBLE' ? 'DOUBLE' : need.type });
    }
  }
  cfg.sources.lists.forEach((l, i) => {
    for (const c of [l.key, l.column]) {
      if (!av.lists[i].includes(c)) missing.push(`sources.lists[${i}] names column "${c}"`);
      plan.lists[i].set(c, 'VARCHAR');
    }
  });
  for (const [name, t, cols] of [['users', cfg.sources.users, av.users], ['items', cfg.sources.items, av.items]] as const) {
    if (t?.key && !cols?.includes(t.key)) missing.push(`sources.${name}.key names column "${t.key}"`);
    if (t?.key) (name === 'users' ? plan.users : plan.items).set(t.key, 'VARCHAR');
  }
  if (missing.length) throw new DataError(`the config names columns the files lack:\n  ${missing.join('\n  ')}\n` +
    `columns that exist:\n${describeAvailable(cfg, av)}`);
  return plan;
}

function needs(cfg: DataConfig): Need[] {
  const out: Need[] = [];
  const row = (column: string, type: SqlType, what: string): void => void out.push({ source: 'row', column, type, what });
  row(cfg.keys.user, 'VARCHAR', 'keys.user');
  row(cfg.keys.item, 'VARCHAR', 'keys.item');
  if (cfg.keys.time) row(cfg.keys.time, 'DOUBLE', 'keys.time');
  if (cfg.label.column) row(cfg.label.column, 'DOUBLE', 'label.column');
  if (cfg.weight) row(cfg.weight.column, 'DOUBLE', 'weight.column');
  if (cfg.split.method === 'column' && cfg.split.column) row(cfg.split.column, 'VARCHAR', 'split.column');
  for (const f of cfg.features) {
    const what = `feature "${f.name}"`;
    const cols = f.kind === 'sequence' && f.flagColumns ? f.flagColumns : [featureColumn(f)];
    const type: SqlType = f.kind === 'dense' || (f.kind === 'sequence' && f.flagColumns) ? 'DOUBLE' : 'VARCHAR';
    for (const column of cols) {
      out.push({ source: f.source === 'context' ? 'row' : f.source, column, type, what });
    }
  }
  for (const d of cfg.derived) {
    if (d.kind === 'stat' && d.stat === 'mean' && d.column) row(d.column, 'DOUBLE', `stat "${d.name}"`);
  }
  return out;
}

function describeAvailable(cfg: DataConfig, av: Available): string {
  const line = (label: string, path: string, cols: string[] | undefined): string =>
    `  ${label} (${path}:1): ${(cols ?? []).join(', ')}`;
  const s = cfg.sources;
  const lines = [line('interactions', s.interactions.path, av.interactions)];
  if (s.users) lines.push(line('users', s.users.path, av.users));
  if (s.items) lines.push(line('items', s.items.path, av.items));
  s.lists.forEach((l, i) => lines.push(line(`lists[${i}] -> ${l.side}.${l.as}`, l.path, av.lists[i])));
  return lines.join('\n');
}
