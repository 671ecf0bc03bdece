// The hidden model behind `prerank data synth`, written as DuckDB SQL. Every random draw is a function of
// hash(seed, key, stream) (key: an event row, a user, an item, a topic...), so a value never depends on thread count,
// chunking or the order rows are computed in, and users/items features are recomputed inside the events query from
// their ids (no per-entity table is joined or held in memory).
//
// Users: gender, age bucket, region (Zipf over REGIONS, grouped into AREAS), interests (a list of subcategories:
// each of the user's INTERESTS topics shown with probability 0.9, sometimes a spurious one), account age
// (log-normal). Items: a subcategory (= topic, TOPICS_PER_CATEGORY per category), a brand of its category (brands
// grouped into STYLES), tags (one or two local tags of its topics, up to two global tags), a log-normal price by
// category. Vectors (DIM) live in one space: a category's, an area's, a demographic group's, a style's, each
// member (topic, region, brand) adding MEMBER_OFFSET of its own.
// Heads (per user): personal interests (mean of the interest topics), regional taste, demographic taste.
// Facets (per item): its topic, its brand's style, the second topic its tags show. Heads and facets carry a little
// per-entity noise (headNoise, facetNoise), learnable only through ids.
// Events: user and item ranks from power laws (inverse CDF of a hashed uniform) mapped to ids by an affine
// permutation; timestamps rise with the row over `days` days with a daily cycle; device (mostly the user's own) and
// hour as context.
// Label: click ~ Bernoulli(sigmoid(z)), z = base + facetWeight (sum_h max_f cos(head_h, facet_f) - FACET_MEAN)
//   + factorWeight <p_u, q_i> (unit variance) + user and item biases + featureWeight (category, gender x category,
//   price x age, region, device, hour, account age) + noise. The max over an item's facets, summed over the user's
//   heads, is the interaction IntTower's FE-Block scores; a dot product of two tower outputs can only approximate it.
import { Rng } from '../core/random.js';

export const HEADS = 3;
export const FACETS = 3;
/** Latent dimension (a multiple of 4: each hash gives four 16-bit components). */
export const DIM = 8;
export const CATEGORIES = 30;
export const TOPICS_PER_CATEGORY = 10;
export const TOPICS = CATEGORIES * TOPICS_PER_CATEGORY;
export const TAGS_PER_TOPIC = 4;
const LOCAL_TAGS = TOPICS * TAGS_PER_TOPIC;
export const BRANDS_PER_CATEGORY = 40;
/** Regions fall into AREAS areas, brands into STYLES styles; a member's vector is its group's plus MEMBER_OFFSET of its own. */
export const AREAS = 10;
export const STYLES = 12;
const MEMBER_OFFSET = 0.4;
/** Interest topics per user, each shown in the interests list with INTEREST_SHOWN; sometimes a spurious one is added. */
export const INTERESTS = 3;
const INTEREST_SHOWN = 0.9;
const INTEREST_SPURIOUS = 0.15;
export const GLOBAL_TAGS = 200;
export const REGIONS = 1000;
export const GENDERS = ['F', 'M', 'U'] as const;
const GENDER_CUM = [0.49, 0.96];
export const AGE_BUCKETS = ['under 18', '18-24', '25-34', '35-44', '45-54', '55-64', '65+'] as const;
const AGE_CUM = [0.04, 0.24, 0.54, 0.75, 0.88, 0.96];
/** Price sensitivity per age bucket. */
const AGE_PRICE = [0.9, 0.8, 0.55, 0.4, 0.3, 0.3, 0.35];
export const DEVICES = ['android', 'ios', 'web'] as const;
const DEVICE_CUM = [0.55, 0.88];
const DEVICE_EFFECT = [0, 0.15, -0.25];
/** Share of a user's events on their own device. */
const OWN_DEVICE = 0.85;

export interface SynthParams {
  /** Weight of the facet-max affinity (sum over heads of the best facet's cosine, centred). */
  facetWeight: number;
  /** Weight of the latent-factor term <p_u, q_i>, scaled to unit variance. */
  factorWeight: number;
  /** Scales every observable feature effect (category, gender x category, price x age, region, device, hour, account age). */
  featureWeight: number;
  userBias: number;
  itemBias: number;
  /** Std of the per-event logit noise. */
  noise: number;
  /** Per-user noise added to a head's topic vector (relative to the topic vector's scale). */
  headNoise: number;
  /** Per-item noise added to the facets' topic vectors. */
  facetNoise: number;
  /** Probability that an item with two or more tags is also listed under a second topic (its third facet). */
  crossTopic: number;
  /** Logit offset; sets the click rate. */
  base: number;
  /** Power-law exponents of user activity, item popularity, topic popularity (count vs rank). */
  userZipf: number;
  itemZipf: number;
  topicZipf: number;
  /** Period covered by the timestamps, starting at `start` (Unix seconds). */
  days: number;
  start: number;
  /** Items an event chooses its item from (1..MAX_EXPOSURE_CANDIDATES). 1: the item is a popularity draw, whoever the
   * user is. k > 1: k popularity draws, of which the event shows one with probability proportional to
   * exp(exposureWeight x cos(the user's interest head, the candidate's topic)): what a personalised upstream stage
   * would show. */
  exposureCandidates: number;
  /** Sharpness of that choice (ignored with one candidate). */
  exposureWeight: number;
}

export const DEFAULT_SYNTH_PARAMS: SynthParams = {
  facetWeight: 3, factorWeight: 0.5, featureWeight: 1, userBias: 0.3, itemBias: 0.3, noise: 0.3, headNoise: 0.3,
  facetNoise: 0.3, crossTopic: 0.5, base: -1.7, userZipf: 0.6, itemZipf: 0.95, topicZipf: 0.9, days: 90, start: 1_735_689_600,
  exposureCandidates: 1, exposureWeight: 8,
};

/** The most candidates an event's exposure may draw (their streams sit between the scalar and the vector streams). */
export const MAX_EXPOSURE_CANDIDATES = 64;

/** Mean of sum_h max_f cos(head_h, facet_f) over events, measured once; centring keeps the click rate put when facetWeight changes. */
export const FACET_MEAN = 0.81;

/** Relative event rate by hour of day: a trough at 5 am, a morning and a lunch bump, a peak at 8-9 pm. */
const HOUR_W = (() => {
  const circ = (a: number, b: number): number => Math.min(Math.abs(a - b), 24 - Math.abs(a - b));
  const w = Array.from({ length: 24 }, (_, h) => 0.12 + Math.exp(-(circ(h + 0.5, 20.5) ** 2) / 32)
    + 0.35 * Math.exp(-((h - 12) ** 2) / 8) + 0.25 * Math.exp(-((h - 8) ** 2) / 4.5));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / s);
})();
/** HOUR_CUM[h]: share of a day's events before hour h (25 bounds, 0 to 1). */
const HOUR_CUM = HOUR_W.reduce((c, w) => [...c, c[c.length - 1] + w], [0]);

/** Hash streams of scalar draws. */
const S = {
  evUser: 1, evItem: 2, evMisc: 3, evNoise: 4, evCandidate: 120, evChoice: 200,
  uDemo: 10, uRegion: 11, uAccount: 12, uVisible: 13, uExtra: 14, uBias: 15, uTopic: 20,
  iTopic: 40, iBrand: 50, iTags: 51, iGlobalTag: 53, iPrice: 55, iBias: 56,
  catBias: 90, catGender: 91, catPrice: 92, regionBias: 93,
  permUser: 100, permItem: 101, permTopic: 102, permRegion: 103, permGlobalTag: 104,
} as const;
/** Vector spaces: vector `key` of space v uses streams VEC_STREAMS + 16 v + k, k < DIM / 4. */
const VEC_STREAMS = 256;
const V = {
  uFactor: 0, uNoise: 1, iFactor: 1 + HEADS, iNoise: 2 + HEADS, topic: 2 + HEADS + FACETS, category: 3 + HEADS + FACETS,
  region: 4 + HEADS + FACETS, area: 5 + HEADS + FACETS, demo: 6 + HEADS + FACETS, brand: 7 + HEADS + FACETS, style: 8 + HEADS + FACETS,
} as const;

/** A layer of named SQL expressions; each layer may use the columns of the ones before it. */
export type Layer = [name: string, expr: string][];

/** `SELECT out FROM` the source with the layers stacked as nested projections (each hash is computed once). */
export function layered(source: string, layers: readonly Layer[], out: readonly string[]): string {
  let q = source;
  for (const l of layers) q = `(SELECT *, ${l.map(([n, e]) => `${e} AS ${n}`).join(', ')} FROM ${q})`;
  return `SELECT ${out.join(', ')} FROM ${q}`;
}

const num = (x: number): string => (Number.isInteger(x) ? `${x}.0` : String(x));
/** Uniform in (0, 1) from the top 53 bits of a hash column. */
const u53 = (h: string): string => `((${h} >> 11)::DOUBLE + 0.5) / 9007199254740992.0`;
/** Uniform in (0, 1) from 16-bit part k (0-3) of a hash column. */
const part = (h: string, k: number): string => `(((${h} >> ${16 * k}) & 65535)::DOUBLE + 0.5) / 65536.0`;
/** 16-bit part k of a hash column as an integer-valued DOUBLE in [0, 65535]. */
const bits16 = (h: string, k: number): string => `(${k ? `(${h} >> ${16 * k})` : h} & 65535)::DOUBLE`;
/** Uniform in (-1, 1) from part k: (x + 0.5) / 32768 - 1. */
const centred = (h: string, k: number): string => `(${bits16(h, k)} * 3.0517578125e-05 - 0.9999847412109375)`;
/** A weighted sum of centred() parts, kept symbolic so its constants fold into one (vector components are sums of several). */
type Lin = { h: string; k: number; w: number }[];
const scaleLin = (l: Lin, w: number): Lin => l.map((t) => ({ ...t, w: t.w * w }));
/** sum w centred(h, k) = sum (w / 32768) x - sum w (1 - 1 / 65536). */
function linSql(l: Lin): string {
  const c = l.reduce((a, t) => a + t.w * (1 - 1 / 65536), 0);
  return `(${l.map((t) => `${bits16(t.h, t.k)} * ${t.w / 32768}`).join(' + ')} - ${num(c)})`;
}
/** Approximately N(0, 1): the four 16-bit parts summed (Irwin-Hall), centred and scaled. */
const gauss = (h: string): string => `((${[0, 1, 2, 3].map((k) => part(h, k)).join(' + ')} - 2.0) * 1.7320508075688772)`;
/** The index of the first cumulative bound above u (bounds ascending; the last index when none). */
const bucket = (u: string, cum: number[]): string =>
  `(CASE ${cum.map((c, i) => `WHEN ${u} < ${c} THEN ${i}`).join(' ')} ELSE ${cum.length} END)`;
const pick = (idx: string, values: readonly (string | number)[]): string =>
  `[${values.map((v) => (typeof v === 'number' ? num(v) : `'${v}'`)).join(', ')}][${idx} + 1]`;
const sigmoid = (z: string): string => `(1.0 / (1.0 + exp(-(${z}))))`;

/** Rank 0..n-1 from a uniform by the inverse CDF of a continuous power law x^-s on [1, n+1). */
function zipfRank(u: string, n: number, s: number): string {
  if (Math.abs(1 - s) < 1e-9) return `least(${n - 1}, floor(pow(${n + 1}.0, ${u}))::BIGINT - 1)`;
  const e = 1 - s;
  return `least(${n - 1}, floor(pow(1.0 + ${u} * ${num(Math.pow(n + 1, e) - 1)}, ${num(1 / e)}))::BIGINT - 1)`;
}

const MASK64 = (1n << 64n) - 1n;
/** Streams take the low bits of a hash input, keys (below 2^31) the bits above. */
const STREAM_BITS = 12;
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** SQL text of one seeded generator. */
export class SynthSql {
  /** A 63-bit mask drawn from the seed (splitmix64), XORed into every hash input. */
  private readonly seedMask: string;

  constructor(readonly seed: number, readonly p: SynthParams) {
    let z = (BigInt(seed) + 0x9e3779b97f4a7c15n) & MASK64;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    this.seedMask = String((z ^ (z >> 31n)) & (MASK64 >> 1n));
  }

  /** 64 random bits for (key, stream). DuckDB's hash of one BIGINT is the MurmurHash3 finaliser, a bijection with good
   * avalanche; its several-argument form only XORs the hashes, so (key, stream, seed) are packed into one input. */
  hash(key: string, stream: number): string {
    return `hash(xor(((${key})::BIGINT << ${STREAM_BITS}) + ${stream}, ${this.seedMask}::BIGINT))`;
  }

  /** An affine bijection of 0..n-1 drawn from the seed: popularity ranks to ids that do not reveal the rank. */
  permute(rank: string, n: number, stream: number): string {
    if (n <= 1) return `(${rank})`;
    const rng = new Rng((this.seed * 7919 + stream) >>> 0);
    let a = Math.floor(n / 3) + rng.int(Math.max(1, n - Math.floor(n / 3)));
    while (gcd(a, n) !== 1) a = a + 1 >= n ? 1 : a + 1;
    return `((${a}::BIGINT * (${rank}) + ${rng.int(n)}) % ${n})`;
  }

  /** A Zipf-distributed id in 0..n-1 (permuted ranks) from a uniform expression. */
  zipfId(u: string, n: number, s: number, stream: number): string {
    return this.permute(zipfRank(u, n, s), n, stream);
  }

  /** Hash columns `${prefix}0..` (DIM / 4 of them) holding the components of vector `key` of a vector space. */
  private vecHashes(prefix: string, key: string, space: number): Layer {
    return Array.from({ length: DIM / 4 }, (_, k): [string, string] => [`${prefix}${k}`, this.hash(key, VEC_STREAMS + space * 16 + k)]);
  }

  /** Hash columns of topic t's vector: its category's vector (`${prefix}c`) and its own offset (`${prefix}o`). */
  private topicHashes(prefix: string, t: string): Layer {
    return [...this.vecHashes(`${prefix}c`, `(${t}) // ${TOPICS_PER_CATEGORY}`, V.category), ...this.vecHashes(`${prefix}o`, t, V.topic)];
  }

  private topicComps(prefix: string): Lin[] {
    return this.noisy(this.comps(`${prefix}c`), `${prefix}o`, MEMBER_OFFSET);
  }

  /** The DIM components (uniform in (-1, 1)) held by the hash columns of vecHashes(prefix). */
  private comps(prefix: string): Lin[] {
    return Array.from({ length: DIM }, (_, d) => [{ h: `${prefix}${d >> 2}`, k: d % 4, w: 1 }]);
  }

  /** Columns `${prefix}${k}_${d}` (raw vectors, component d) and `${prefix}norm${k}` (their lengths). */
  private vectors(prefix: string, raw: Lin[][]): Layer[] {
    const comps: Layer = raw.flatMap((v, k) => v.map((e, d): [string, string] => [`${prefix}${k}_${d}`, linSql(e)]));
    const norms: Layer = raw.map((_, k) =>
      [`${prefix}norm${k}`, `sqrt(${Array.from({ length: DIM }, (_, d) => `${prefix}${k}_${d} * ${prefix}${k}_${d}`).join(' + ')})`]);
    return [comps, norms];
  }

  /** base + scale * the vector held by vecHashes(noise). */
  private noisy(base: Lin[], noise: string, scale: number): Lin[] {
    const n = this.comps(noise);
    return base.map((b, d) => [...b, ...scaleLin(n[d], scale)]);
  }

  /** User columns from the user id column `uid`; every name starts with u_. */
  userLayers(uid: string): Layer[] {
    const p = this.p;
    const hashes: Layer = [['u_hd', this.hash(uid, S.uDemo)], ['u_hr', this.hash(uid, S.uRegion)],
      ['u_ha', this.hash(uid, S.uAccount)], ['u_hv', this.hash(uid, S.uVisible)], ['u_hx', this.hash(uid, S.uExtra)],
      ['u_hb', this.hash(uid, S.uBias)], ...this.vecHashes('u_p', uid, V.uFactor)];
    for (let k = 0; k < INTERESTS; k++) hashes.push([`u_ht${k}`, this.hash(uid, S.uTopic + k)]);
    for (let h = 0; h < HEADS; h++) hashes.push(...this.vecHashes(`u_n${h}`, uid, V.uNoise + h));
    const topic = (u: string) => this.zipfId(u, TOPICS, p.topicZipf, S.permTopic);
    const draws: Layer = [
      ['u_gender', bucket(part('u_hd', 0), GENDER_CUM)],
      ['u_age', bucket(part('u_hd', 1), AGE_CUM)],
      ['u_device', bucket(part('u_hd', 2), DEVICE_CUM)],
      ['u_region', this.zipfId(u53('u_hr'), REGIONS, 1.0, S.permRegion)],
      ['u_account', `round(least(5000.0, greatest(1.0, exp(5.5 + ${gauss('u_ha')}))), 1)`],
      ['u_bias', `${num(p.userBias)} * ${gauss('u_hb')}`],
      ['u_extra', topic(u53('u_hx'))],
      ...Array.from({ length: INTERESTS }, (_, k): [string, string] => [`u_t${k}`, topic(u53(`u_ht${k}`))]),
    ];
    const spaces: Layer = [...this.vecHashes('u_av', `u_region % ${AREAS}`, V.area), ...this.vecHashes('u_ro', 'u_region', V.region),
      ...this.vecHashes('u_dv', `u_gender * ${AGE_BUCKETS.length} + u_age`, V.demo)];
    for (let k = 0; k < INTERESTS; k++) spaces.push(...this.topicHashes(`u_tv${k}`, `u_t${k}`));
    const tv = Array.from({ length: INTERESTS }, (_, k) => this.topicComps(`u_tv${k}`));
    // heads: personal interests (the mean of the interest topics), regional taste (the region's area, a little of
    // the region itself), demographic taste (gender x age)
    const interest = Array.from({ length: DIM }, (_, d) => scaleLin(tv.flatMap((v) => v[d]), 1 / Math.sqrt(INTERESTS)));
    const heads = [this.noisy(interest, 'u_n0', p.headNoise),
      this.noisy(this.noisy(this.comps('u_av'), 'u_ro', MEMBER_OFFSET), 'u_n1', p.headNoise),
      this.noisy(this.comps('u_dv'), 'u_n2', p.headNoise)];
    return [hashes, draws, spaces, ...this.vectors('u_h', heads)];
  }

  /** The users file's columns (after userLayers). */
  userOutput(uid: string): string[] {
    const shown = Array.from({ length: INTERESTS }, (_, k) => `CASE WHEN ${part('u_hv', k)} < ${INTEREST_SHOWN} THEN u_t${k} END`);
    const interests = `list_transform(list_sort(list_distinct(list_filter([${shown.join(', ')},
      CASE WHEN ${part('u_hv', 3)} < ${INTEREST_SPURIOUS} THEN u_extra END], x -> x IS NOT NULL))), x -> ${this.topicName('x')})`;
    return [`${uid}::INTEGER AS user_id`, `${pick('u_gender', GENDERS)} AS gender`, `${pick('u_age', AGE_BUCKETS)} AS age`,
      `'r' || u_region AS region`, `${interests} AS interests`, 'u_account AS account_age_days'];
  }

  /** 'c<category>-<k>': the subcategory name of topic expression t. */
  topicName(t: string): string {
    return `'c' || (${t} // ${TOPICS_PER_CATEGORY}) || '-' || (${t} % ${TOPICS_PER_CATEGORY})`;
  }

  /** Item columns from the item id column `iid`; every name starts with i_. */
  itemLayers(iid: string): Layer[] {
    const p = this.p;
    const hashes: Layer = [['i_ht', this.hash(iid, S.iTopic)], ['i_ht1', this.hash(iid, S.iTopic + 1)],
      ['i_hbr', this.hash(iid, S.iBrand)], ['i_hg', this.hash(iid, S.iTags)], ['i_hq', this.hash(iid, S.iGlobalTag)],
      ['i_hp', this.hash(iid, S.iPrice)], ['i_hb', this.hash(iid, S.iBias)],
      ...this.vecHashes('i_q', iid, V.iFactor)];
    for (let f = 0; f < FACETS; f++) hashes.push(...this.vecHashes(`i_n${f}`, iid, V.iNoise + f));
    const topic = (u: string) => this.zipfId(u, TOPICS, p.topicZipf, S.permTopic);
    const draws: Layer = [
      ['i_t0', topic(u53('i_ht'))],
      ['i_other', topic(u53('i_ht1'))],
      ['i_ntags', `1 + floor(${part('i_hg', 0)} * 4)::INTEGER`],
      ['i_j0', `floor(${part('i_hg', 1)} * ${TAGS_PER_TOPIC})::INTEGER`],
      ['i_g0', this.zipfId(part('i_hq', 0), GLOBAL_TAGS, 1.0, S.permGlobalTag)],
      ['i_g1', this.zipfId(part('i_hq', 1), GLOBAL_TAGS, 1.0, S.permGlobalTag)],
      ['i_bias', `${num(p.itemBias)} * ${gauss('i_hb')}`],
    ];
    const derived: Layer = [
      ['i_cat', `i_t0 // ${TOPICS_PER_CATEGORY}`],
      // the second tag belongs to another topic the item is also listed under, or is another tag of its own topic
      ['i_t1', `CASE WHEN i_ntags >= 2 AND ${part('i_hg', 2)} < ${num(p.crossTopic)} THEN i_other ELSE i_t0 END`],
    ];
    const tagIds: Layer = [
      ['i_brand', `i_cat * ${BRANDS_PER_CATEGORY} + ${zipfRank(part('i_hbr', 0), BRANDS_PER_CATEGORY, 1.0)}`],
      ['i_tag0', `i_t0 * ${TAGS_PER_TOPIC} + i_j0`],
      ['i_tag1', `CASE WHEN i_ntags < 2 THEN NULL WHEN i_t1 <> i_t0 THEN i_t1 * ${TAGS_PER_TOPIC} + floor(${part('i_hg', 3)} * ${TAGS_PER_TOPIC})::INTEGER
        ELSE i_t0 * ${TAGS_PER_TOPIC} + (i_j0 + 1 + floor(${part('i_hg', 3)} * ${TAGS_PER_TOPIC - 1})::INTEGER) % ${TAGS_PER_TOPIC} END`],
      ['i_tag2', `CASE WHEN i_ntags >= 3 THEN ${LOCAL_TAGS} + i_g0 END`],
      ['i_tag3', `CASE WHEN i_ntags >= 4 AND i_g1 <> i_g0 THEN ${LOCAL_TAGS} + i_g1 END`],
    ];
    const spaces: Layer = [...this.topicHashes('i_tv0', 'i_t0'), ...this.topicHashes('i_tv1', 'i_t1'),
      ...this.vecHashes('i_sv', `i_brand % ${STYLES}`, V.style), ...this.vecHashes('i_bo', 'i_brand', V.brand),
      ['i_hc', this.hash('i_cat', S.catPrice)]];
    // facets: the item's topic, its brand's style (a little of the brand itself), the second topic its tags show
    const facets = [this.noisy(this.topicComps('i_tv0'), 'i_n0', p.facetNoise),
      this.noisy(this.noisy(this.comps('i_sv'), 'i_bo', MEMBER_OFFSET), 'i_n1', p.facetNoise),
      this.noisy(this.topicComps('i_tv1'), 'i_n2', p.facetNoise)];
    const price: Layer = [['i_price', `round(exp(2.3 + 1.6 * ${u53('i_hc')} + 0.7 * ${gauss('i_hp')}), 2)`]];
    const [comps, norms] = this.vectors('i_f', facets);
    return [hashes, draws, derived, tagIds, spaces, [...price, ...comps], norms];
  }

  /** The items file's columns (after itemLayers). */
  itemOutput(iid: string): string[] {
    const tag = (k: number) => `CASE WHEN i_tag${k} < ${LOCAL_TAGS} THEN 't' || i_tag${k} ELSE 'g' || (i_tag${k} - ${LOCAL_TAGS}) END`;
    const tags = `list_sort(list_filter([${[0, 1, 2, 3].map(tag).join(', ')}], x -> x IS NOT NULL))`;
    return [`${iid}::INTEGER AS item_id`, `'c' || i_cat AS category`, `${this.topicName('i_t0')} AS subcategory`,
      `'b' || i_brand AS brand`, `${tags} AS tags`, 'i_price AS price'];
  }

  /** Event columns for row number `row` of `events`: the user id, the timestamp and the hashes later layers draw from
   * (the item id comes from exposureLayers, after the user's columns). */
  eventLayers(row: string, events: number, users: number): Layer[] {
    const p = this.p;
    return [
      [['e_hu', this.hash(row, S.evUser)], ['e_hi', this.hash(row, S.evItem)], ['e_hm', this.hash(row, S.evMisc)],
        ['e_hn', this.hash(row, S.evNoise)]],
      // row i covers [i, i + 1) / events of the period: timestamps rise with the row, jittered inside its slot
      [['e_x', `(${row} + ((e_hi & 2047)::DOUBLE + 0.5) / 2048.0) / ${events} * ${p.days}`]],
      [['uid', this.zipfId(u53('e_hu'), users, p.userZipf, S.permUser)],
        ['e_day', 'floor(e_x)'], ['e_hour', bucket('(e_x - floor(e_x))', HOUR_CUM.slice(1, 24))]],
      [['e_ts', `${p.start} + e_day::BIGINT * 86400 + floor(3600.0 * (e_hour + ((e_x - e_day) - ${pick('e_hour', HOUR_CUM.slice(0, 24))})
        / ${pick('e_hour', HOUR_W)}))::BIGINT`]],
    ];
  }

  /** The event's item id `iid`, after eventLayers and userLayers('uid'): a popularity draw, or the choice among
   * exposureCandidates popularity draws by the user's interest (SynthParams.exposureCandidates). */
  exposureLayers(row: string, items: number): Layer[] {
    const p = this.p;
    const k = p.exposureCandidates;
    if (!Number.isInteger(k) || k < 1 || k > MAX_EXPOSURE_CANDIDATES) {
      throw new Error(`synth: exposureCandidates must be an integer in 1..${MAX_EXPOSURE_CANDIDATES}, got ${k}`);
    }
    if (!Number.isFinite(p.exposureWeight)) throw new Error(`synth: exposureWeight must be a finite number, got ${p.exposureWeight}`);
    const itemOf = (h: string) => this.zipfId(u53(h), items, p.itemZipf, S.permItem);
    if (k === 1) return [[['iid', itemOf('e_hi')]]];
    const ks = Array.from({ length: k }, (_, c) => c);
    // candidate 0 is the draw a one-candidate log uses; the choice's Gumbel noise takes 16-bit parts of its own hashes
    const hashes: Layer = ks.map((c) => [`x_h${c}`, c === 0 ? 'e_hi' : this.hash(row, S.evCandidate + c)]);
    for (let j = 0; j < Math.ceil(k / 4); j++) hashes.push([`x_g${j}`, this.hash(row, S.evChoice + j)]);
    const ids: Layer = ks.map((c) => [`x_c${c}`, itemOf(`x_h${c}`)]);
    // each candidate's topic, drawn as itemLayers draws an item's first topic, and that topic's vector
    const topics: Layer = ks.map((c) => [`x_t${c}`, this.zipfId(u53(this.hash(`x_c${c}`, S.iTopic)), TOPICS, p.topicZipf, S.permTopic)]);
    const spaces: Layer = ks.flatMap((c) => this.topicHashes(`x_tv${c}`, `x_t${c}`));
    const [comps, norms] = this.vectors('x_v', ks.map((c) => this.topicComps(`x_tv${c}`)));
    const score = (c: number): string => {
      const dot = Array.from({ length: DIM }, (_, d) => `x_v${c}_${d} * u_h0_${d}`).join(' + ');
      return `${num(p.exposureWeight)} * (${dot}) / (x_vnorm${c} * u_hnorm0) - ln(-ln(${part(`x_g${c >> 2}`, c % 4)}))`;
    };
    const list = (col: string) => `[${ks.map((c) => `${col}${c}`).join(', ')}]`;
    return [hashes, ids, topics, spaces, comps, norms, ks.map((c) => [`x_s${c}`, score(c)]),
      [['iid', `${list('x_c')}[list_position(${list('x_s')}, list_max(${list('x_s')}))]`]]];
  }

  /** The label layers, after eventLayers, userLayers('uid'), exposureLayers and itemLayers('iid'). */
  labelLayers(): Layer[] {
    const p = this.p;
    const cos: Layer = [];
    for (let h = 0; h < HEADS; h++) {
      for (let f = 0; f < FACETS; f++) {
        const dot = Array.from({ length: DIM }, (_, d) => `u_h${h}_${d} * i_f${f}_${d}`).join(' + ');
        cos.push([`c${h}_${f}`, `(${dot}) / (u_hnorm${h} * i_fnorm${f})`]);
      }
    }
    const facet = Array.from({ length: HEADS }, (_, h) =>
      `greatest(${Array.from({ length: FACETS }, (_, f) => `c${h}_${f}`).join(', ')})`).join(' + ');
    const q = this.comps('i_q');
    const pq = this.comps('u_p').map((x, d) => `${linSql(x)} * ${linSql(q[d])}`);
    const device = `CASE WHEN ${part('e_hm', 0)} < ${OWN_DEVICE} THEN u_device ELSE ${bucket(part('e_hm', 1), DEVICE_CUM)} END`;
    const effects = [
      `0.35 * ${gauss('e_hcb')}`,
      `0.5 * (2.0 * (((e_hcg >> (16 * u_gender)) & 65535)::DOUBLE + 0.5) / 65536.0 - 1.0)`,
      `-0.35 * ${pick('u_age', AGE_PRICE)} * (ln(i_price) - 3.3)`,
      `0.25 * ${gauss('e_hrb')}`,
      `${pick('e_device', DEVICE_EFFECT)}`,
      `0.2 * cos(2.0 * pi() * (e_hour - 21) / 24.0)`,
      `-0.12 * (ln(u_account) - 5.5)`,
    ];
    return [
      [...cos, ['e_device', device], ['e_hcb', this.hash('i_cat', S.catBias)], ['e_hcg', this.hash('i_cat', S.catGender)],
        ['e_hrb', this.hash('u_region', S.regionBias)]],
      [['e_facet', facet], ['e_z', `${num(p.base)} + ${num(p.factorWeight)} * ${num(3 / Math.sqrt(DIM))} * (${pq.join(' + ')})
        + u_bias + i_bias + ${num(p.featureWeight)} * (${effects.join(' + ')}) + ${num(p.noise)} * ${gauss('e_hn')}`]],
      [['e_click', `(((e_hm >> 32)::DOUBLE + 0.5) / 4294967296.0 < ${sigmoid(`e_z + ${num(p.facetWeight)} * (e_facet - ${num(FACET_MEAN)})`)})::TINYINT`]],
    ];
  }

  /** The events file's columns (after the event, user, item and label layers). */
  eventOutput(): string[] {
    return ['uid::INTEGER AS user_id', 'iid::INTEGER AS item_id', 'e_ts AS ts', `${pick('e_device', DEVICES)} AS device`,
      'e_hour::TINYINT AS hour', 'e_click AS click'];
  }
}
