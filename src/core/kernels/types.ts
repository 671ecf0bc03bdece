// The kernel interface: raw loops over typed arrays, implemented twice — `reference` in TypeScript (float32 and
// float64, the ground truth for gradient checks) and `native` in the C++ addon (float32 only, SIMD, threaded).
// Matrices are row-major; `ld*` is the row stride in elements.
export type FArr = Float32Array | Float64Array;

/** Activation codes shared with the native addon. */
export const ACT = { none: 0, relu: 1, prelu: 2, sigmoid: 3, tanh: 4, silu: 5 } as const;
export type ActName = keyof typeof ACT;

export interface Kernels {
  readonly name: string;
  /** C = alpha*op(A)*op(B) + beta*C, then (if given) C = C + bias[col], then relu if `relu`. */
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: FArr, lda: number, B: FArr, ldb: number, beta: number, C: FArr, ldc: number, bias: FArr | null, relu: boolean): void;
  gemmBatched(tA: boolean, tB: boolean, batch: number, M: number, N: number, K: number, alpha: number, A: FArr, lda: number, sA: number, B: FArr, ldb: number, sB: number, beta: number, C: FArr, ldc: number, sC: number): void;
  /** Y = act(X) over rows x cols; prelu slope has length cols or 1. */
  actForward(act: number, rows: number, cols: number, X: FArr, Y: FArr, slope: FArr | null): void;
  /** dX = dY * act'(X) (Y = act(X) given too); for prelu also dSlope += sum of dY * min(X, 0) per slope entry. */
  actBackward(act: number, rows: number, cols: number, X: FArr, Y: FArr, dY: FArr, dX: FArr, slope: FArr | null, dSlope: FArr | null): void;
  /** out[c] (+)= sum_r X[r, c]. */
  colSum(rows: number, cols: number, X: FArr, out: FArr, accumulate: boolean): void;
  /** Y = X / max(||X_row||, eps); norms[r] = ||X_row||. */
  l2norm(rows: number, cols: number, X: FArr, Y: FArr, norms: FArr, eps: number): void;
  l2normBackward(rows: number, cols: number, Y: FArr, norms: FArr, dY: FArr, dX: FArr, eps: number): void;
  /** Row softmax (or log-softmax). */
  softmax(rows: number, cols: number, X: FArr, Y: FArr, log: boolean): void;
  softmaxBackward(rows: number, cols: number, Y: FArr, dY: FArr, dX: FArr, log: boolean): void;
  /**
   * Softmax cross-entropy of scale * X [rows, cols] with labels[r] in [0, cols): writes lse[r] = log sum_c
   * exp(scale X[r, c]) and returns sum_r (lse[r] - scale X[r, labels[r]]). One pass instead of scale, log-softmax and
   * a pick; nothing [rows, cols] is written.
   */
  crossEntropy(rows: number, cols: number, X: FArr, labels: Int32Array, scale: number, lse: FArr): number;
  /** dX[r, c] = gscale * scale * (exp(scale X[r, c] - lse[r]) - [c == labels[r]]). */
  crossEntropyBackward(rows: number, cols: number, X: FArr, labels: Int32Array, scale: number, lse: FArr, gscale: number, dX: FArr): void;
  /**
   * Sum over i of w_i * BCE(sigmoid(z_i), t_i), computed stably; if grad is given, grad_i = scale * w_i * (sigmoid(z_i) - t_i).
   */
  bceLogits(n: number, z: FArr, t: FArr, w: FArr | null, grad: FArr | null, scale: number): number;
  /** out[i, :] = table[ids[i], :]; throws on an id outside [0, V). */
  gatherRows(V: number, D: number, table: FArr, ids: Int32Array, out: FArr): void;
  /** dst[ids[i], :] += src[i, :]. */
  scatterAddRows(V: number, D: number, dst: FArr, ids: Int32Array, src: FArr): void;
  /**
   * Inverted dropout: mask[i] = 1/(1-p) if hash(seed, i) >= p else 0, Y = X * mask. The hash is counter-based
   * (the same in both back ends), so results do not depend on threading.
   */
  dropout(n: number, p: number, seed: number, X: FArr, Y: FArr, mask: FArr): void;
  /** out = a * b element-wise. */
  mul(n: number, a: FArr, b: FArr, out: FArr): void;
  /**
   * Batch norm over rows of X [rows, cols]. Training: batch mean and biased variance (running stats updated with
   * momentum, unbiased variance); eval: running stats. Writes Y, xhat and invStd [cols] for the backward.
   */
  batchNormForward(rows: number, cols: number, X: FArr, gamma: FArr, beta: FArr, runMean: FArr, runVar: FArr, training: boolean, momentum: number, eps: number, xhat: FArr, invStd: FArr, Y: FArr): void;
  /** dGamma, dBeta (overwritten) and dX from G = dY. */
  batchNormBackward(rows: number, cols: number, G: FArr, xhat: FArr, gamma: FArr, invStd: FArr, training: boolean, dX: FArr | null, dGamma: FArr, dBeta: FArr): void;
  /** Layer norm over each row of X [rows, cols]: xhat = (X - row mean) * invStd[r] (biased variance), Y = xhat * gamma + beta. */
  layerNormForward(rows: number, cols: number, X: FArr, gamma: FArr, beta: FArr, eps: number, xhat: FArr, invStd: FArr, Y: FArr): void;
  /** dGamma, dBeta (overwritten) and dX (null skips it) from G = dY. */
  layerNormBackward(rows: number, cols: number, G: FArr, xhat: FArr, gamma: FArr, invStd: FArr, dX: FArr | null, dGamma: FArr, dBeta: FArr): void;
  /**
   * Max-sim reduction: X [A, N*G] -> out[n] = sum over a of max over g of X[a, n*G + g]; arg [A*N] receives the
   * winning g (first on ties) for the backward.
   */
  groupMaxSum(A: number, N: number, G: number, X: FArr, out: FArr, arg: Int32Array): void;
  /**
   * Per-pair max-sim: U [N, A, P], V [N, G, P] -> out[n] = sum over a of max over g of <U[n, a], V[n, g]>; arg [N*A]
   * receives the winning g (the first on ties).
   */
  pairMaxSim(N: number, A: number, G: number, P: number, U: FArr, V: FArr, out: FArr, arg: Int32Array): void;
  /** dU[n, a] = gOut[n] V[n, arg]; dV[n, g] = gOut[n] * sum of U[n, a] over the a whose arg is g (overwritten; null skips). */
  pairMaxSimBackward(N: number, A: number, G: number, P: number, U: FArr, V: FArr, arg: Int32Array, gOut: FArr, dU: FArr | null, dV: FArr | null): void;
  /**
   * RankTower's per-pair score (gated cross-attention both ways, then max-sim) for N pairs of rows of UR [P, Ru] and
   * IR [C, Ri]: pair n is user row users[n] and item row items[n]. A user row is [E | Q | U | K' | V'] (widths Hu*K,
   * Hu*D, Hu*Vw, Hu*D, Hu*Vw), an item row [E | K | V | Q' | U'] (the same with Hi). W holds the two branches'
   * per-pair weights, user->item first, each [W_o (Vw x K) | b_o (K) | gamma (K) | beta (K)]. Per query head a of a
   * branch: x = E_a + (U_a * softmax_h(Q_a . K_h / sqrt D) V) W_o + b_o, y = LayerNorm(x) (eps), n = y / max(|y|,
   * 1e-12); out[n] = sum over user heads of the max over item heads of <n_user, n_item> (temperature and bias are
   * not applied here).
   */
  gauMaxSim(Hu: number, Hi: number, K: number, D: number, Vw: number, eps: number, P: number, C: number, N: number, users: Int32Array, items: Int32Array, UR: FArr, IR: FArr, W: FArr, out: FArr): void;
  /** The gradients of sum_n gOut[n] * out[n] with respect to UR, IR and W (overwritten; the max goes to the first arg-max). */
  gauMaxSimBackward(Hu: number, Hi: number, K: number, D: number, Vw: number, eps: number, P: number, C: number, N: number, users: Int32Array, items: Int32Array, UR: FArr, IR: FArr, W: FArr, gOut: FArr, dUR: FArr, dIR: FArr, dW: FArr): void;
  /**
   * Max-sim of every user against every item: heads [B*A, P] (row b*A + a is user b's head a), items [C*G, P] (item
   * c's heads in rows c*G..) -> out [B, C] = sum over a (in order) of max over g of <heads[b*A + a], items[c*G + g]>,
   * arg [A*B*C] (arg[a*B*C + b*C + c]: the first winning g). Both overwritten. The same values as a GEMM into the
   * [B*A, C*G] similarities followed by a group max, without holding those similarities.
   */
  maxSimCross(A: number, B: number, C: number, G: number, P: number, heads: FArr, items: FArr, out: FArr, arg: Int32Array): void;
  /**
   * Backward of max-sim over every (user, item) pair from the forward's winners: heads [B*A, P] (row b*A + a is user
   * b's head a), items [C*G, P] (item c's heads in rows c*G..), arg [A*B*C] (arg[a*B*C + b*C + c]: the winning item
   * head, as maxSimCross writes it), gOut [B, C]. dHeads[b*A + a] = sum over c of gOut[b, c] items[c*G + arg];
   * dItems[c*G + g] = sum of gOut[b, c] heads[b*A + a] over the (a, b) whose winner for c is g. Both overwritten.
   */
  maxSimCrossBackward(A: number, B: number, C: number, G: number, P: number, heads: FArr, items: FArr, arg: Int32Array, gOut: FArr, dHeads: FArr, dItems: FArr): void;
  /** out[r] = sum_c A[r, c] * B[r, c]. */
  rowDot(rows: number, cols: number, A: FArr, B: FArr, out: FArr): void;
  /** out[r, c] = s[r] * X[r, c]. */
  rowScale(rows: number, cols: number, s: FArr, X: FArr, out: FArr): void;
  /** dst += alpha * src. */
  axpy(n: number, alpha: number, src: FArr, dst: FArr): void;
  /** Adam / AdamW step on a dense parameter; `decoupled` applies wd as AdamW, else as L2 added to the gradient. */
  adam(n: number, p: FArr, g: FArr, m: FArr, v: FArr, lr: number, b1: number, b2: number, eps: number, wd: number, step: number, decoupled: boolean): void;
  /** Lazy Adam on the rows `ids` (unique) of a [V, D] table, with their gradient rows g [ids.length, D]. */
  adamRows(D: number, ids: Int32Array, p: FArr, g: FArr, m: FArr, v: FArr, lr: number, b1: number, b2: number, eps: number, wd: number, step: number, decoupled: boolean): void;
  /** SGD with optional momentum buffer (null when momentum = 0) and L2 weight decay. */
  sgd(n: number, p: FArr, g: FArr, buf: FArr | null, lr: number, momentum: number, wd: number): void;
  adagrad(n: number, p: FArr, g: FArr, sum: FArr, lr: number, eps: number, wd: number): void;
}
