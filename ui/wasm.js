// Scoring in the page: prerank/web (served under ./web/) loads the served bundle's own files (./bundle/<model>/)
// and scores with the WebAssembly scorer. Feature-detected: a build of prerank/web without loadBundle(url) leaves the
// toggle off, with a note saying why.

let web = null;

/** { loadBundle } when this build of prerank/web can load a bundle over fetch, else { note } saying why not. */
export async function detectWebScorer() {
  web ??= import('./web/src/web/index.js').then((m) => m, (e) => e);
  const m = await web;
  if (m instanceof Error) return { note: `prerank/web did not load here (${m.message}): scoring in the page is off.` };
  if (typeof m.loadBundle !== 'function') {
    return { note: 'This build of prerank/web cannot load a bundle over fetch (no loadBundle): scoring in the page is off.' };
  }
  return { loadBundle: m.loadBundle, note: 'Scores the same candidates with the bundle fetched into the page; both latencies are shown.' };
}

const loaded = new Map();

/** The in-page answer for a request ({user, candidates, n}, as POST /v1/prerank) and its time in ms (bundle load excluded). */
export async function scoreInPage(loadBundle, info, req) {
  const key = `${info.bundleUrl}|${info.modelVersion}`;
  if (!loaded.has(key)) loaded.set(key, loadBundle(new URL(info.bundleUrl, location.href).href));
  const bundle = await loaded.get(key);
  const t0 = performance.now();
  const r = await bundle.prerank(req);
  return { ...r, ms: performance.now() - t0 };
}
