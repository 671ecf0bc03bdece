// A ServingPlanSpec written into the scorer module's plan builder (native/wasm/web_abi.cc), field by field. Types
// are checked here, each error naming its field (spec.steps[2].weight ...); sizes and arena ranges are checked by
// the plan itself (native/serve.cc), whose message comes back as a WasmScorerError. The score kind's own fields are
// passed on by name whatever the kind (numbers, booleans, Float32Arrays, nested objects as "object.field"), so the
// kinds are known in one place, serve_scores.cc.
import type { PlanStep, ServingPlanSpec } from '../models/common/serving.js';
import type { ScorerModule } from './wasm-module.js';
import { WasmScorerError } from './wasm-imports.js';

// ServeStep::Kind and ServeStep::Act (native/serve.h)
const STEP_KINDS = { linear: 0, l2norm: 1, lightSe: 2, gate: 3, fieldGate: 4 } as const;
const ACTS = ['none', 'relu', 'silu', 'sigmoid'] as const;

function fail(where: string, what: string): never {
  throw new WasmScorerError(`serving plan: ${where} ${what}`);
}

function int(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) fail(where, `must be a non-negative integer (got ${String(v)})`);
  return v;
}

function num(v: unknown, where: string): number {
  if (typeof v !== 'number') fail(where, `must be a number (got ${typeof v})`);
  return v;
}

function floats(v: unknown, where: string, optional = false): Float32Array | null {
  if (v instanceof Float32Array) return v;
  if (optional && (v === null || v === undefined)) return null;
  return fail(where, `must be a Float32Array${optional ? ' or null' : ''}`);
}

/** One step's arguments in the order of prerank_plan_step (the weights aside). */
function stepArgs(s: PlanStep, where: string): { kind: number; ints: number[]; eps: number; scale: number; w: Float32Array | null; b: Float32Array | null } {
  const op = (s as { op?: unknown }).op;
  // [src, dst, aux, in, out, rows, tail, act, residual]
  switch (s.op) {
    case 'linear': {
      const act = ACTS.indexOf((s.act ?? 'none') as never);
      if (act < 0) fail(`${where}.act`, `'${String(s.act)}' is not one of ${ACTS.join(', ')}`);
      const ints = [int(s.src, `${where}.src`), int(s.dst, `${where}.dst`), 0, int(s.in, `${where}.in`), int(s.out, `${where}.out`),
        s.rows === undefined ? 1 : int(s.rows, `${where}.rows`), 0, act, 0];
      return { kind: STEP_KINDS.linear, ints, eps: 0, scale: 1, w: floats(s.weight, `${where}.weight`), b: floats(s.bias, `${where}.bias`, true) };
    }
    case 'gate': {
      const size = int(s.size, `${where}.size`);
      return { kind: STEP_KINDS.gate, ints: [int(s.value, `${where}.value`), int(s.dst, `${where}.dst`), int(s.gate, `${where}.gate`), size, size, 1, 0, 0, 0], eps: 0, scale: 1, w: null, b: null };
    }
    case 'l2norm':
      return { kind: STEP_KINDS.l2norm, ints: [int(s.offset, `${where}.offset`), 0, 0, int(s.rows, `${where}.rows`), int(s.cols, `${where}.cols`), 1, 0, 0, 0],
        eps: num(s.eps, `${where}.eps`), scale: 1, w: null, b: null };
    case 'lightSe':
      return { kind: STEP_KINDS.lightSe, ints: [int(s.offset, `${where}.offset`), 0, 0, int(s.fields, `${where}.fields`), int(s.dim, `${where}.dim`), 1, 0, 0, s.residual ? 1 : 0],
        eps: 0, scale: 1, w: floats(s.weight, `${where}.weight`), b: floats(s.bias, `${where}.bias`, true) };
    case 'fieldGate': {
      // aux < 0: no gate (every g_f = 1); the binding's convention for a null gate
      const gate = s.gate === null || s.gate === undefined ? -1 : int(s.gate, `${where}.gate`);
      return { kind: STEP_KINDS.fieldGate, ints: [int(s.src, `${where}.src`), int(s.dst, `${where}.dst`), gate, int(s.fields, `${where}.fields`), int(s.dim, `${where}.dim`), 1,
        int(s.tail, `${where}.tail`), 0, 0], eps: 0, scale: num(s.scale, `${where}.scale`), w: null, b: floats(s.shift, `${where}.shift`, true) };
    }
    default:
      return fail(`${where}.op`, `'${String(op)}' is not one of ${Object.keys(STEP_KINDS).join(', ')}`);
  }
}

/** The score's own fields, by name (the kind, scale and bias aside). */
function scoreFields(mod: ScorerModule, builder: number, o: Record<string, unknown>, prefix: string): void {
  for (const [key, v] of Object.entries(o)) {
    if (!prefix && (key === 'kind' || key === 'scale' || key === 'bias')) continue;
    const name = prefix + key;
    if (v === null || v === undefined) continue; // an absent object (RankTower without cross-attention)
    const k = mod.cString(name);
    try {
      if (typeof v === 'number' || typeof v === 'boolean') mod.call((x) => x.prerank_plan_number(builder, k, Number(v)));
      else if (v instanceof Float32Array) {
        const p = mod.copyIn(v);
        try {
          mod.call((x) => x.prerank_plan_floats(builder, k, p, v.length));
        } finally {
          mod.free(p);
        }
      } else if (typeof v === 'object' && !ArrayBuffer.isView(v)) scoreFields(mod, builder, v as Record<string, unknown>, `${name}.`);
      else fail(`spec.score.${name}`, 'must be a number, boolean, Float32Array or object');
    } finally {
      mod.free(k);
    }
  }
}

/** The compiled plan's handle in module memory (prerank_plan_delete frees it). */
export function buildPlan(mod: ScorerModule, spec: ServingPlanSpec): number {
  if (typeof spec !== 'object' || spec === null) fail('spec', 'must be an object');
  if (!Array.isArray(spec.steps)) fail('spec.steps', 'must be an array');
  if (typeof spec.score !== 'object' || spec.score === null) fail('spec.score', 'must be an object');
  const kind = spec.score.kind;
  if (typeof kind !== 'string') fail('spec.score.kind', 'must be a string');
  const scale = num(spec.score.scale, 'spec.score.scale'), bias = num(spec.score.bias, 'spec.score.bias');
  const steps = spec.steps.map((s, i) => stepArgs(s, `spec.steps[${i}]`));
  const builder = mod.call((x) => x.prerank_plan_new(int(spec.arena, 'spec.arena'), int(spec.input, 'spec.input'),
    int(spec.repOffset, 'spec.repOffset'), int(spec.repLength, 'spec.repLength')));
  try {
    for (const s of steps) {
      const w = s.w ? mod.copyIn(s.w) : 0, b = s.b ? mod.copyIn(s.b) : 0;
      try {
        const [src, dst, aux, inn, out, rows, tail, act, residual] = s.ints;
        mod.call((x) => x.prerank_plan_step(builder, s.kind, src, dst, aux, inn, out, rows, tail, act, residual, s.eps, s.scale,
          w, s.w?.length ?? 0, b, s.b?.length ?? 0));
      } finally {
        mod.free(w);
        mod.free(b);
      }
    }
    scoreFields(mod, builder, spec.score as unknown as Record<string, unknown>, '');
    const k = mod.cString(kind);
    try {
      return mod.call((x) => x.prerank_plan_finish(builder, k, scale, bias));
    } finally {
      mod.free(k);
    }
  } finally {
    mod.call((x) => x.prerank_builder_free(builder));
  }
}
