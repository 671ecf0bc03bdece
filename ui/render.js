// The ranked lists as tables (one per model, side by side) and each item's explanation in words.

const fmt = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const signed = (x) => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x))}`;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** Heads shown per item; the rest are summed in one line. */
const SHOWN_HEADS = 6;

/** One user head's term: which item head won its max, with what similarity, and what it adds to the logit. */
function headLine(e, h) {
  const user = e.kind === 'maxsim' ? `layer ${h.layer} head ${h.head}` : `user sub-space ${h.user}`;
  const item = e.kind === 'maxsim' ? `item head ${h.item}` : `item sub-space ${h.item}`;
  const sim = e.scale === 1 ? '' : ` (${e.kind === 'maxsim' ? 'dot' : 'cos'} ${fmt(h.sim)})`;
  return `${user} → ${item}: ${signed(h.contribution)}${sim}`;
}

/** The explanation of one item as a list: what each part adds to the logit. */
export function explanationList(e) {
  if (!e) return el('span', {}, '—');
  const lines = [];
  if (e.kind === 'dot') lines.push(`dot product ${fmt(e.dot)} × ${fmt(e.scale, 2)} (${signed(e.contribution)})`);
  else {
    const heads = [...e.heads].sort((a, b) => b.contribution - a.contribution);
    for (const h of heads.slice(0, SHOWN_HEADS)) lines.push(headLine(e, h));
    const rest = heads.slice(SHOWN_HEADS);
    if (rest.length) lines.push(`${rest.length} more heads (${signed(rest.reduce((a, h) => a + h.contribution, 0))})`);
    if (e.kind === 'rankTower' && e.userGates) {
      lines.push(`gates: user ${e.userGates.map((g) => fmt(g, 2)).join(' ')}; item ${e.itemGates.map((g) => fmt(g, 2)).join(' ')}`);
    }
  }
  lines.push(`bias ${signed(e.bias)} = ${fmt(e.total)}`);
  return el('ul', { class: 'why' }, ...lines.map((l) => el('li', {}, l)));
}

/** Equal within float rounding, relative to the larger score. */
const same = (a, b) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * One model's table: rank, item, its attributes, the served score, the in-page score when there is one, and why.
 * `list`: the server's answer (items, ms); `why`: id -> explained item; `inPage`: the WebAssembly answer or null.
 */
export function listSection(info, list, why, inPage) {
  const attrs = (info.attributes ?? []).slice(0, 3);
  const wasmScores = inPage ? new Map(inPage.items.map((x) => [String(x.id), x.score])) : null;
  const head = el('tr', {}, ...['Rank', 'Item', ...attrs, 'Score', ...(inPage ? ['Score in page'] : []), 'Why'].map((h) => el('th', { scope: 'col' }, h)));
  const rows = list.items.map((x, i) => {
    const id = String(x.id);
    const ex = why.get(id);
    const cells = [el('td', { class: 'num' }, i + 1), el('th', { scope: 'row' }, id),
      ...attrs.map((a) => el('td', {}, (ex?.attributes?.[a] ?? '').replaceAll('|', ' | '))), el('td', { class: 'num' }, fmt(x.score, 4))];
    if (wasmScores) {
      const w = wasmScores.get(id);
      cells.push(el('td', { class: `num${w === undefined || !same(w, x.score) ? ' mismatch' : ''}` }, w === undefined ? 'absent' : fmt(w, 4)));
    }
    cells.push(el('td', {}, explanationList(ex?.explanation)));
    return el('tr', { 'data-id': id }, ...cells);
  });
  const timing = `server ${fmt(list.ms, 1)} ms (HTTP round trip)${inPage ? ` · WebAssembly in page ${fmt(inPage.ms, 2)} ms` : ''}`;
  const caption = el('caption', {}, `${info.model === 'compare' ? 'Compared' : 'Served'}: ${info.kind} ${info.modelVersion} `, el('span', { class: 'timing' }, timing));
  const notes = [];
  if (list.unknown?.length) notes.push(`unknown ids: ${list.unknown.join(', ')}`);
  if (list.oov?.length) notes.push(`features out of vocabulary: ${list.oov.join(', ')}`);
  const table = el('table', { 'aria-label': `${info.model} model: ${info.kind}` }, caption, el('thead', {}, head), el('tbody', {}, ...rows));
  return el('section', { 'aria-label': `${info.kind} list` }, table, ...notes.map((n) => el('p', { class: 'hint' }, n)));
}

/** A model's place in the results when its list failed (e.g. a compare model that cannot retrieve). */
export function errorSection(info, e) {
  return el('section', { 'aria-label': `${info.kind} list` }, el('h2', {}, `${info.model === 'compare' ? 'Compared' : 'Served'}: ${info.kind} ${info.modelVersion}`),
    el('p', { class: 'mismatch' }, `No list: ${e.message}`));
}

/** What the bundle holds about the user: its statistics, and its histories by the items' first attribute (a title). */
export function profileSection(p) {
  const parts = [];
  if (!p.known) parts.push(el('p', {}, `User ${p.id} is not in the bundle's user vocabulary: the model sees an unknown user.`));
  const stats = Object.entries(p.stats).map(([k, v]) => `${k} ${v === null ? 'none' : fmt(v)}`);
  if (stats.length) parts.push(el('p', {}, `Statistics: ${stats.join('; ')}.`));
  for (const [k, items] of Object.entries(p.history)) {
    const names = items.map((x) => (x.attributes ? `${Object.values(x.attributes)[0] ?? x.id} (${x.id})` : x.id));
    parts.push(el('p', {}, `${k}, oldest first: ${names.length ? names.join(', ') : 'none'}.`));
  }
  return el('section', { 'aria-labelledby': 'profile-title' }, el('h2', { id: 'profile-title' }, `What the bundle knows about user ${p.id}`), ...parts);
}

/** Form fields for the raw user features a request takes (the user id has its own field). */
export function featureFields(info) {
  const out = [];
  for (const f of info.userFeatures) {
    for (const c of f.columns) {
      if (c === info.userKey) continue;
      const id = `feat-${c}`;
      const kind = f.kind === 'sequence' ? `a list${f.separator ? ` separated by "${f.separator}"` : ''}` : f.kind === 'dense' ? 'a number' : 'a value';
      out.push(el('label', { for: id }, `${c} (${f.source}, ${kind})`),
        el('input', { id, name: c, type: f.kind === 'dense' ? 'number' : 'text', step: f.kind === 'dense' ? 'any' : null, 'data-column': c, 'data-kind': f.kind }));
    }
  }
  if (!out.length) out.push(el('p', { class: 'hint' }, 'The model takes no other raw user feature.'));
  out.push(el('p', { class: 'hint' }, 'Empty fields are left out of the request. Statistics and histories of a known user come from the bundle by the user id.'));
  return out;
}
