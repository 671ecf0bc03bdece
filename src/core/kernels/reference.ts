// Reference kernels in plain TypeScript: the readable ground truth (float32 or float64) that the native kernels
// are checked against, and the fallback when the addon is not built.
import type { FArr, Kernels } from './types.js';
import { gauMaxSimBackwardReference, gauMaxSimReference } from './gau-max-sim.js';

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function actValue(act: number, x: number, slope: number): number {
  switch (act) {
    case 0: return x;
    case 1: return x > 0 ? x : 0;
    case 2: return x > 0 ? x : slope * x;
    case 3: return sigmoid(x);
    case 4: return Math.tanh(x);
    case 5: return x * sigmoid(x);
    default: throw new Error(`unknown activation code ${act}`);
  }
}

function actDerivative(act: number, x: number, y: number, slope: number): number {
  switch (act) {
    case 0: return 1;
    case 1: return x > 0 ? 1 : 0;
    case 2: return x > 0 ? 1 : slope;
    case 3: return y * (1 - y);
    case 4: return 1 - y * y;
    case 5: { const s = sigmoid(x); return s * (1 + x * (1 - s)); }
    default: throw new Error(`unknown activation code ${act}`);
  }
}

/** Counter-based uniform in [0, 1) from (seed, i): a 32-bit finaliser (murmur3 fmix32) over seed ^ i * golden. */
export function hashUniform(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 8) / 16777216;
}

export const reference: Kernels = {
  name: 'reference',

  gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu) {
    const acc = new Float64Array(N);
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const a = tA ? A[k * lda + i] : A[i * lda + k];
        if (a === 0) continue;
        if (tB) for (let j = 0; j < N; j++) acc[j] += a * B[j * ldb + k];
        else {
          const row = k * ldb;
          for (let j = 0; j < N; j++) acc[j] += a * B[row + j];
        }
      }
      const c = i * ldc;
      for (let j = 0; j < N; j++) {
        let v = alpha * acc[j] + (beta === 0 ? 0 : beta * C[c + j]);
        if (bias) v += bias[j];
        C[c + j] = relu && v < 0 ? 0 : v;
      }
    }
  },

  gemmBatched(tA, tB, batch, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC) {
    for (let b = 0; b < batch; b++) {
      reference.gemm(tA, tB, M, N, K, alpha, A.subarray(b * sA), lda, B.subarray(b * sB), ldb, beta, C.subarray(b * sC), ldc, null, false);
    }
  },

  actForward(act, rows, cols, X, Y, slope) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        Y[i] = actValue(act, X[i], slope ? slope[slope.length === 1 ? 0 : c] : 0);
      }
    }
  },

  actBackward(act, rows, cols, X, Y, dY, dX, slope, dSlope) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const s = slope ? slope[slope.length === 1 ? 0 : c] : 0;
        if (dSlope && X[i] < 0) dSlope[dSlope.length === 1 ? 0 : c] += dY[i] * X[i];
        dX[i] = dY[i] * actDerivative(act, X[i], Y[i], s);
      }
    }
  },

  colSum(rows, cols, X, out, accumulate) {
    if (!accumulate) out.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += X[r * cols + c];
  },

  l2norm(rows, cols, X, Y, norms, eps) {
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let c = 0; c < cols; c++) ss += X[r * cols + c] ** 2;
      const norm = Math.sqrt(ss);
      norms[r] = norm;
      const n = Math.max(norm, eps);
      for (let c = 0; c < cols; c++) Y[r * cols + c] = X[r * cols + c] / n;
    }
  },

  l2normBackward(rows, cols, Y, norms, dY, dX, eps) {
    // y = x/n with n = ||x|| (when above eps): dx = (dy - y * <dy, y>) / n. Below eps n is constant: dx = dy / n.
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += dY[r * cols + c] * Y[r * cols + c];
      const clamped = norms[r] < eps;
      const n = Math.max(norms[r], eps);
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        dX[i] = clamped ? dY[i] / n : (dY[i] - Y[i] * dot) / n;
      }
    }
  },

  softmax(rows, cols, X, Y, log) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, X[o + c]);
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(X[o + c] - mx);
      const lse = mx + Math.log(s);
      for (let c = 0; c < cols; c++) Y[o + c] = log ? X[o + c] - lse : Math.exp(X[o + c] - mx) / s;
    }
  },

  softmaxBackward(rows, cols, Y, dY, dX, log) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      if (log) {
        for (let c = 0; c < cols; c++) s += dY[o + c];
        for (let c = 0; c < cols; c++) dX[o + c] = dY[o + c] - Math.exp(Y[o + c]) * s;
      } else {
        for (let c = 0; c < cols; c++) s += dY[o + c] * Y[o + c];
        for (let c = 0; c < cols; c++) dX[o + c] = Y[o + c] * (dY[o + c] - s);
      }
    }
  },

  pairMaxSim(N, A, G, P, U, V, out, arg) {
    for (let n = 0; n < N; n++) {
      let total = 0;
      for (let a = 0; a < A; a++) {
        const u = (n * A + a) * P;
        let best = 0;
        let bv = -Infinity;
        for (let g = 0; g < G; g++) {
          const v = (n * G + g) * P;
          let d = 0;
          for (let p = 0; p < P; p++) d += U[u + p] * V[v + p];
          if (g === 0 || d > bv) {
            bv = d;
            best = g;
          }
        }
        arg[n * A + a] = best;
        total += bv;
      }
      out[n] = total;
    }
  },

  pairMaxSimBackward(N, A, G, P, U, V, arg, gOut, dU, dV) {
    if (dV) dV.fill(0, 0, N * G * P);
    for (let n = 0; n < N; n++) {
      for (let a = 0; a < A; a++) {
        const i = n * A + a;
        const v = (n * G + arg[i]) * P;
        for (let p = 0; p < P; p++) {
          if (dU) dU[i * P + p] = gOut[n] * V[v + p];
          if (dV) dV[v + p] += gOut[n] * U[i * P + p];
        }
      }
    }
  },

  gauMaxSim(Hu, Hi, K, D, Vw, eps, _P, _C, N, users, items, UR, IR, W, out) {
    gauMaxSimReference(Hu, Hi, K, D, Vw, eps, N, users, items, UR, IR, W, out);
  },

  gauMaxSimBackward(Hu, Hi, K, D, Vw, eps, _P, _C, N, users, items, UR, IR, W, gOut, dUR, dIR, dW) {
    gauMaxSimBackwardReference(Hu, Hi, K, D, Vw, eps, N, users, items, UR, IR, W, gOut, dUR, dIR, dW);
  },

  crossEntropy(rows, cols, X, labels, scale, lse) {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, scale * X[o + c]);
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(scale * X[o + c] - mx);
      lse[r] = mx + Math.log(s);
      total += lse[r] - scale * X[o + labels[r]];
    }
    return total;
  },

  crossEntropyBackward(rows, cols, X, labels, scale, lse, gscale, dX) {
    const gk = gscale * scale;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) dX[o + c] = gk * Math.exp(scale * X[o + c] - lse[r]);
      dX[o + labels[r]] -= gk;
    }
  },

  bceLogits(n, z, t, w, grad, scale) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = z[i];
      const wi = w ? w[i] : 1;
      // max(x,0) - x*t + log(1 + exp(-|x|))
      total += wi * (Math.max(x, 0) - x * t[i] + Math.log1p(Math.exp(-Math.abs(x))));
      if (grad) grad[i] = scale * wi * (sigmoid(x) - t[i]);
    }
    return total;
  },

  gatherRows(V, D, table, ids, out) {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < V)) throw new RangeError(`gatherRows: index ${id} at position ${i} is outside [0, ${V})`);
      for (let d = 0; d < D; d++) out[i * D + d] = table[id * D + d];
    }
  },

  scatterAddRows(V, D, dst, ids, src) {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < V)) throw new RangeError(`scatterAddRows: index ${id} at position ${i} is outside [0, ${V})`);
      for (let d = 0; d < D; d++) dst[id * D + d] += src[i * D + d];
    }
  },

  dropout(n, p, seed, X, Y, mask) {
    const keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) {
      mask[i] = hashUniform(seed, i) >= p ? keep : 0;
      Y[i] = X[i] * mask[i];
    }
  },

  mul(n, a, b, out) {
    for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  },

  batchNormForward(rows, cols, X, gamma, beta, runMean, runVar, training, momentum, eps, xhat, invStd, Y) {
    const mean = new Float64Array(cols);
    if (training) {
      const v = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += X[r * cols + c];
      for (let c = 0; c < cols; c++) mean[c] /= rows;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) v[c] += (X[r * cols + c] - mean[c]) ** 2;
      for (let c = 0; c < cols; c++) {
        invStd[c] = 1 / Math.sqrt(v[c] / rows + eps);
        runMean[c] = (1 - momentum) * runMean[c] + momentum * mean[c];
        runVar[c] = (1 - momentum) * runVar[c] + (momentum * v[c]) / Math.max(rows - 1, 1);
      }
    } else {
      for (let c = 0; c < cols; c++) {
        mean[c] = runMean[c];
        invStd[c] = 1 / Math.sqrt(runVar[c] + eps);
      }
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        xhat[i] = (X[i] - mean[c]) * invStd[c];
        Y[i] = xhat[i] * gamma[c] + beta[c];
      }
    }
  },

  batchNormBackward(rows, cols, G, xhat, gamma, invStd, training, dX, dGamma, dBeta) {
    const dg = new Float64Array(cols);
    const db = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        dg[c] += G[r * cols + c] * xhat[r * cols + c];
        db[c] += G[r * cols + c];
      }
    }
    for (let c = 0; c < cols; c++) {
      dGamma[c] = dg[c];
      dBeta[c] = db[c];
    }
    if (!dX) return;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        dX[i] = training
          ? gamma[c] * invStd[c] * (G[i] - db[c] / rows - (xhat[i] * dg[c]) / rows)
          : gamma[c] * invStd[c] * G[i];
      }
    }
  },

  layerNormForward(rows, cols, X, gamma, beta, eps, xhat, invStd, Y) {
    for (let r = 0; r < rows; r++) {
      let m = 0;
      for (let c = 0; c < cols; c++) m += X[r * cols + c];
      m /= cols;
      let v = 0;
      for (let c = 0; c < cols; c++) v += (X[r * cols + c] - m) ** 2;
      invStd[r] = 1 / Math.sqrt(v / cols + eps);
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        xhat[i] = (X[i] - m) * invStd[r];
        Y[i] = xhat[i] * gamma[c] + beta[c];
      }
    }
  },

  layerNormBackward(rows, cols, G, xhat, gamma, invStd, dX, dGamma, dBeta) {
    const dg = new Float64Array(cols);
    const db = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      let sumG = 0;
      let sumGH = 0;
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const gh = G[i] * gamma[c];
        sumG += gh;
        sumGH += gh * xhat[i];
        dg[c] += G[i] * xhat[i];
        db[c] += G[i];
      }
      if (!dX) continue;
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        dX[i] = invStd[r] * (G[i] * gamma[c] - sumG / cols - (xhat[i] * sumGH) / cols);
      }
    }
    dGamma.set(dg);
    dBeta.set(db);
  },

  maxSimCross(A, B, C, G, P, heads, items, out, arg) {
    out.fill(0, 0, B * C);
    for (let a = 0; a < A; a++) {
      for (let b = 0; b < B; b++) {
        const h = (b * A + a) * P;
        for (let c = 0; c < C; c++) {
          let best = 0, bestSim = -Infinity;
          for (let g = 0; g < G; g++) {
            const it = (c * G + g) * P;
            let s = 0;
            for (let p = 0; p < P; p++) s += heads[h + p] * items[it + p];
            if (g === 0 || s > bestSim) (best = g), (bestSim = s);
          }
          arg[a * B * C + b * C + c] = best;
          out[b * C + c] += bestSim;
        }
      }
    }
  },

  maxSimCrossBackward(A, B, C, G, P, heads, items, arg, gOut, dHeads, dItems) {
    dHeads.fill(0, 0, A * B * P);
    dItems.fill(0, 0, C * G * P);
    for (let a = 0; a < A; a++) {
      for (let b = 0; b < B; b++) {
        const r = (b * A + a) * P;
        for (let c = 0; c < C; c++) {
          const s = gOut[b * C + c], v = (c * G + arg[a * B * C + b * C + c]) * P;
          for (let p = 0; p < P; p++) {
            dHeads[r + p] += s * items[v + p];
            dItems[v + p] += s * heads[r + p];
          }
        }
      }
    }
  },

  groupMaxSum(A, N, G, X, out, arg) {
    out.fill(0, 0, N);
    for (let a = 0; a < A; a++) {
      for (let n = 0; n < N; n++) {
        const o = a * N * G + n * G;
        let best = 0;
        for (let g = 1; g < G; g++) if (X[o + g] > X[o + best]) best = g;
        arg[a * N + n] = best;
        out[n] += X[o + best];
      }
    }
  },

  rowDot(rows, cols, A, B, out) {
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let c = 0; c < cols; c++) acc += A[r * cols + c] * B[r * cols + c];
      out[r] = acc;
    }
  },

  rowScale(rows, cols, s, X, out) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = s[r] * X[r * cols + c];
  },

  axpy(n, alpha, src, dst) {
    for (let i = 0; i < n; i++) dst[i] += alpha * src[i];
  },

  adam(n, p, g, m, v, lr, b1, b2, eps, wd, step, decoupled) {
    const c1 = 1 - b1 ** step;
    const c2 = 1 - b2 ** step;
    for (let i = 0; i < n; i++) {
      let gi = g[i];
      if (wd !== 0) {
        if (decoupled) p[i] -= lr * wd * p[i];
        else gi += wd * p[i];
      }
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  },

  adamRows(D, ids, p, g, m, v, lr, b1, b2, eps, wd, step, decoupled) {
    for (let r = 0; r < ids.length; r++) {
      const o = ids[r] * D;
      reference.adam(D, p.subarray(o, o + D), g.subarray(r * D, r * D + D), m.subarray(o, o + D), v.subarray(o, o + D), lr, b1, b2, eps, wd, step, decoupled);
    }
  },

  sgd(n, p, g, buf, lr, momentum, wd) {
    for (let i = 0; i < n; i++) {
      let gi = g[i] + wd * p[i];
      if (buf) {
        buf[i] = momentum * buf[i] + gi;
        gi = buf[i];
      }
      p[i] -= lr * gi;
    }
  },

  adagrad(n, p, g, sum, lr, eps, wd) {
    for (let i = 0; i < n; i++) {
      const gi = g[i] + wd * p[i];
      sum[i] += gi * gi;
      p[i] -= (lr * gi) / (Math.sqrt(sum[i]) + eps);
    }
  },
};
