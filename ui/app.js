// The model explorer page: pick a user (by id, or raw feature values), rank a list with the served model (and the
// compare model, when the server has one), show each item's attributes, score and explanation, and optionally score
// the same candidates in the page with the WebAssembly scorer. Plain DOM and ES modules, no build step.
import { explanations, findUsers, modelInfo, rankedList, userProfile } from './api.js';
import { errorSection, featureFields, listSection, profileSection } from './render.js';
import { detectWebScorer, scoreInPage } from './wasm.js';

const $ = (id) => document.getElementById(id);
const status = (msg) => void ($('status').textContent = msg);
const models = [];
let web = { note: '' };

async function start() {
  const main = await modelInfo('main');
  models.push(main);
  if (main.compare) models.push(await modelInfo('compare'));
  $('models').textContent = models.map((m) => `${m.model === 'main' ? 'Serving' : 'comparing with'} ${m.kind} ${m.modelVersion}${m.data ? ` (${m.data}, ${m.items} items)` : ''}`).join('; ');
  $('user-key').textContent = main.userKey ? `(column ${main.userKey})` : '';
  $('features').replaceChildren(...featureFields(main));
  if (!main.retrieve) {
    $('source-recommend').disabled = true;
    $('source-list').checked = true;
  }
  web = await detectWebScorer();
  $('wasm').disabled = !web.loadBundle;
  $('wasm-note').textContent = web.note;
  const first = await findUsers('', 1);
  if (first.users.length) $('user-id').placeholder = `e.g. ${first.users[0]} (${first.known} users known)`;
  status('Ready.');
  document.body.dataset.ready = 'true';
}

let searchTimer = 0;
function suggestUsers() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    try {
      const r = await findUsers($('user-id').value.trim());
      $('user-list').replaceChildren(...r.users.map((u) => Object.assign(document.createElement('option'), { value: u })));
    } catch (e) {
      status(`User search failed: ${e.message}`);
    }
  }, 150);
}

/** The request's user object: the id and every filled feature field. */
function userFromForm() {
  const user = {};
  const id = $('user-id').value.trim();
  if (id && models[0].userKey) user[models[0].userKey] = id;
  for (const input of $('features').querySelectorAll('input[data-column]')) {
    const v = input.value.trim();
    if (v === '') continue;
    user[input.dataset.column] = input.dataset.kind === 'dense' ? Number(v) : v;
  }
  return user;
}

function queryFromForm() {
  const source = document.querySelector('input[name=source]:checked').value;
  const candidates = $('candidates').value.split(/[\s,]+/).filter(Boolean);
  const n = Number($('n').value);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error('Items to show: give a whole number from 1 to 200.');
  if (source === 'list' && candidates.length === 0) throw new Error('Paste at least one candidate id, or choose Recommend.');
  return { user: userFromForm(), source, candidates, n };
}

/** One model's list, explanations and (when asked) the in-page scores of the same candidates. */
async function rankOne(info, q, inPage) {
  const list = await rankedList(info.model, q);
  const ids = list.items.map((x) => String(x.id));
  // a model without a serving plan (single-tower) answers 501: its list is shown unexplained
  const why = await explanations(info.model, q.user, ids).catch((e) => (e.status === 501 ? new Map() : Promise.reject(e)));
  let wasm = null;
  if (inPage) wasm = await scoreInPage(web.loadBundle, info, { user: q.user, candidates: q.source === 'list' ? q.candidates : ids, n: q.n });
  return listSection(info, list, why, wasm);
}

async function rank(event) {
  event.preventDefault();
  let q;
  try {
    q = queryFromForm();
  } catch (e) {
    status(e.message);
    return;
  }
  status('Ranking…');
  $('rank').disabled = true;
  try {
    const inPage = $('wasm').checked && !!web.loadBundle;
    const sections = [];
    for (const info of models) sections.push(await rankOne(info, q, inPage).catch((e) => errorSection(info, e)));
    $('results').replaceChildren(...sections);
    const who = q.user[models[0].userKey] ?? 'the edited features';
    $('profile').replaceChildren(...(q.user[models[0].userKey] !== undefined ? [profileSection(await userProfile(String(who)))] : []));
    status(`Ranked for user ${who}: ${sections.length === 2 ? 'two models side by side' : 'one model'}.`);
  } catch (e) {
    status(`Ranking failed: ${e.message}`);
  } finally {
    $('rank').disabled = false;
  }
}

$('query').addEventListener('submit', rank);
$('user-id').addEventListener('input', suggestUsers);
start().catch((e) => status(`The page could not start: ${e.message}`));
