// Plain TypeScript kernels over typed arrays. They are the numerical reference (run in float64
// for gradient checks) and the fallback for anything the WebAssembly kernels do not cover.
// Each forward sits next to its backward, in the order of backend.ts.

import type {
  AdamWStep,
  AttentionGrads,
  AttentionShape,
  BinaryOp,
  FloatArray,
  MatmulShape,
  RopeScaling,
  RopeShape,
  UnaryOp,
} from "../../backend.ts";

type F = FloatArray;

export function unary(op: UnaryOp, out: F, a: F): void {
  const n = out.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -a[i];
      return;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = Math.exp(a[i]);
      return;
    case "log":
      for (let i = 0; i < n; i++) out[i] = Math.log(a[i]);
      return;
    case "square":
      for (let i = 0; i < n; i++) out[i] = a[i] * a[i];
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(a[i]);
      return;
    case "relu":
      for (let i = 0; i < n; i++) out[i] = a[i] > 0 ? a[i] : 0;
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-a[i]));
      return;
    case "silu":
      for (let i = 0; i < n; i++) out[i] = a[i] / (1 + Math.exp(-a[i]));
      return;
    case "abs":
      for (let i = 0; i < n; i++) out[i] = Math.abs(a[i]);
      return;
  }
}

export function unaryBackward(op: UnaryOp, dA: F, a: F, y: F, dOut: F): void {
  const n = dA.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) dA[i] -= dOut[i];
      return;
    case "exp":
      for (let i = 0; i < n; i++) dA[i] += dOut[i] * y[i];
      return;
    case "log":
      for (let i = 0; i < n; i++) dA[i] += dOut[i] / a[i];
      return;
    case "square":
      for (let i = 0; i < n; i++) dA[i] += 2 * a[i] * dOut[i];
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) dA[i] += dOut[i] / (2 * y[i]);
      return;
    case "relu":
      for (let i = 0; i < n; i++) if (a[i] > 0) dA[i] += dOut[i];
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) dA[i] += dOut[i] * y[i] * (1 - y[i]);
      return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const s = 1 / (1 + Math.exp(-a[i]));
        dA[i] += dOut[i] * s * (1 + a[i] * (1 - s));
      }
      return;
    case "abs":
      for (let i = 0; i < n; i++) dA[i] += a[i] > 0 ? dOut[i] : a[i] < 0 ? -dOut[i] : 0;
      return;
  }
}

export function binary(op: BinaryOp, out: F, a: F, b: F): void {
  const n = out.length;
  const bs = b.length === 1 && n !== 1; // scalar broadcast
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = bs ? b[0] : b[i];
    switch (op) {
      case "add":
        out[i] = x + y;
        break;
      case "sub":
        out[i] = x - y;
        break;
      case "mul":
        out[i] = x * y;
        break;
      case "div":
        out[i] = x / y;
        break;
      case "min":
        out[i] = x <= y ? x : y;
        break;
      case "max":
        out[i] = x >= y ? x : y;
        break;
    }
  }
}

export function binaryBackward(op: BinaryOp, dA: F | null, dB: F | null, a: F, b: F, dOut: F): void {
  const n = dOut.length;
  const bs = b.length === 1 && n !== 1;
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = bs ? b[0] : b[i];
    const g = dOut[i];
    let ga = 0;
    let gb = 0;
    switch (op) {
      case "add":
        ga = g;
        gb = g;
        break;
      case "sub":
        ga = g;
        gb = -g;
        break;
      case "mul":
        ga = g * y;
        gb = g * x;
        break;
      case "div":
        ga = g / y;
        gb = (-g * x) / (y * y);
        break;
      case "min": // ties go to a, as in the forward
        if (x <= y) ga = g;
        else gb = g;
        break;
      case "max":
        if (x >= y) ga = g;
        else gb = g;
        break;
    }
    if (dA) dA[i] += ga;
    if (dB) {
      if (bs) dB[0] += gb;
      else dB[i] += gb;
    }
  }
}

export function clamp(out: F, a: F, lo: number, hi: number): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i] < lo ? lo : a[i] > hi ? hi : a[i];
}

export function clampBackward(dA: F, a: F, lo: number, hi: number, dOut: F): void {
  for (let i = 0; i < dA.length; i++) if (a[i] > lo && a[i] < hi) dA[i] += dOut[i];
}

export function sumRows(out: F, a: F, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += a[r * cols + c];
    out[r] = s;
  }
}

export function sumRowsAcc(out: F, a: F, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += a[r * cols + c];
}

export function addRowVector(out: F, a: F, bias: F, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = a[r * cols + c] + bias[c];
}

export function broadcastRows(out: F, s: F, rows: number, cols: number, accumulate: boolean): void {
  for (let r = 0; r < rows; r++) {
    const v = s[r];
    for (let c = 0; c < cols; c++) {
      if (accumulate) out[r * cols + c] += v;
      else out[r * cols + c] = v;
    }
  }
}

export function matmul(C: F, A: F, B: F, shape: MatmulShape): void {
  const { M, N, K, transA = false, transB = false, accumulate = false } = shape;
  if (!accumulate) C.fill(0, 0, M * N);
  // i-k-j loop order keeps the inner loop contiguous in B and C when B is not transposed.
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const aik = transA ? A[k * M + i] : A[i * K + k];
      if (aik === 0) continue;
      if (transB) for (let j = 0; j < N; j++) C[ci + j] += aik * B[j * K + k];
      else {
        const bk = k * N;
        for (let j = 0; j < N; j++) C[ci + j] += aik * B[bk + j];
      }
    }
  }
}

export function embedding(out: F, table: F, ids: Int32Array, dim: number): void {
  for (let r = 0; r < ids.length; r++) {
    const src = ids[r] * dim;
    for (let c = 0; c < dim; c++) out[r * dim + c] = table[src + c];
  }
}

export function embeddingBackward(dTable: F, ids: Int32Array, dOut: F, dim: number): void {
  for (let r = 0; r < ids.length; r++) {
    const dst = ids[r] * dim;
    for (let c = 0; c < dim; c++) dTable[dst + c] += dOut[r * dim + c];
  }
}

export function rmsnorm(y: F, rstd: F, x: F, w: F, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let c = 0; c < dim; c++) ss += x[o + c] * x[o + c];
    const rs = 1 / Math.sqrt(ss / dim + eps);
    rstd[r] = rs;
    for (let c = 0; c < dim; c++) y[o + c] = x[o + c] * rs * w[c];
  }
}

export function rmsnormBackward(dx: F, dw: F, dy: F, x: F, w: F, rstd: F, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const rs = rstd[r];
    let dot = 0; // sum_c (dy * w)_c x_c
    for (let c = 0; c < dim; c++) {
      dot += dy[o + c] * w[c] * x[o + c];
      dw[c] += dy[o + c] * x[o + c] * rs;
    }
    const k = (rs * rs * rs * dot) / dim;
    for (let c = 0; c < dim; c++) dx[o + c] += rs * dy[o + c] * w[c] - k * x[o + c];
  }
}

/** Inverse frequencies of rotary embedding, computed in float32 as Hugging Face does; with
 *  `scaling`, transformers' llama3 adjustment (_compute_llama3_parameters), op for op in float32. */
export function ropeInvFreq(D: number, theta: number, scaling?: RopeScaling): Float64Array {
  const half = D / 2;
  const f = new Float64Array(half);
  // float32 at every step, as torch computes 1.0 / (base ** (arange(0, D, 2).float() / D)): rounding
  // the power before taking its reciprocal changes some frequencies by an ulp (e.g. theta 1e6).
  const r = Math.fround;
  for (let i = 0; i < half; i++) f[i] = r(1 / r(theta ** r((2 * i) / D)));
  if (scaling) for (let i = 0; i < half; i++) f[i] = llama3InvFreq(f[i], scaling);
  return f;
}

/** One llama3-scaled frequency. Each float32 tensor op of the PyTorch code is one fround here;
 *  Python scalars are float64 until they meet the tensor, and `s / t` is `t.reciprocal() * s`. */
function llama3InvFreq(inv: number, sc: RopeScaling): number {
  const r = Math.fround;
  const old = sc.originalMaxPositions;
  const lowWavelen = r(old / sc.lowFreqFactor);
  const highWavelen = r(old / sc.highFreqFactor);
  const factor = r(sc.factor);
  const wavelen = r(r(1 / inv) * r(2 * Math.PI));
  if (wavelen > lowWavelen) return r(inv / factor);
  if (wavelen < highWavelen) return inv;
  const smooth = r(
    r(r(r(1 / wavelen) * r(old)) - r(sc.lowFreqFactor)) / r(sc.highFreqFactor - sc.lowFreqFactor),
  );
  return r(r(r(r(1 - smooth) * inv) / factor) + r(smooth * inv));
}

export function rope(out: F, x: F, positions: Int32Array, shape: RopeShape): void {
  const { rows, H, D, theta, scaling, inverse = false } = shape;
  const half = D / 2;
  const inv = ropeInvFreq(D, theta, scaling);
  const sign = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    const pos = positions[r];
    for (let i = 0; i < half; i++) {
      const ang = pos * inv[i];
      const c = Math.cos(ang);
      const s = sign * Math.sin(ang);
      for (let h = 0; h < H; h++) {
        const o = (r * H + h) * D;
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        out[o + i] = x1 * c - x2 * s;
        out[o + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

export function attention(
  out: F,
  lse: F,
  q: F,
  k: F,
  v: F,
  sh: AttentionShape,
  pos0: Int32Array,
  scale: number,
): void {
  const { B, Tq, Tk, Hq, Hkv, D } = sh;
  const group = Hq / Hkv;
  const p = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const last = pos0[b] + i; // keys 0..last are visible
        const qo = ((b * Tq + i) * Hq + h) * D;
        let m = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= last; j++) {
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qo + d] * k[ko + d];
          s *= scale;
          p[j] = s;
          if (s > m) m = s;
        }
        let z = 0;
        for (let j = 0; j <= last; j++) {
          p[j] = Math.exp(p[j] - m);
          z += p[j];
        }
        for (let d = 0; d < D; d++) out[qo + d] = 0;
        for (let j = 0; j <= last; j++) {
          const w = p[j] / z;
          const vo = ((b * Tk + j) * Hkv + hk) * D;
          for (let d = 0; d < D; d++) out[qo + d] += w * v[vo + d];
        }
        lse[(b * Hq + h) * Tq + i] = m + Math.log(z);
      }
    }
  }
}

export function attentionBackward(grads: AttentionGrads<F>, sh: AttentionShape, scale: number): void {
  const { dq, dk, dv, dOut, q, k, v, out, lse } = grads;
  const { B, Tq, Tk, Hq, Hkv, D } = sh;
  const group = Hq / Hkv;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const qo = ((b * Tq + i) * Hq + h) * D;
        const l = lse[(b * Hq + h) * Tq + i];
        let di = 0; // sum_j P_ij dP_ij = dOut_i . out_i
        for (let d = 0; d < D; d++) di += dOut[qo + d] * out[qo + d];
        for (let j = 0; j <= i; j++) {
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let s = 0;
          let dp = 0;
          for (let d = 0; d < D; d++) {
            s += q[qo + d] * k[ko + d];
            dp += dOut[qo + d] * v[ko + d];
          }
          const pij = Math.exp(s * scale - l);
          const ds = pij * (dp - di) * scale;
          for (let d = 0; d < D; d++) {
            dv[ko + d] += pij * dOut[qo + d];
            dq[qo + d] += ds * k[ko + d];
            dk[ko + d] += ds * q[qo + d];
          }
        }
      }
    }
  }
}

export function swiglu(out: F, gate: F, up: F): void {
  for (let i = 0; i < out.length; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

export function swigluBackward(dGate: F, dUp: F, gate: F, up: F, dOut: F): void {
  for (let i = 0; i < dOut.length; i++) {
    const g = gate[i];
    const s = 1 / (1 + Math.exp(-g));
    const silu = g * s;
    dUp[i] += dOut[i] * silu;
    dGate[i] += dOut[i] * up[i] * s * (1 + g * (1 - s));
  }
}

export function tokenStats(out: F, lse: F, logits: F, targets: Int32Array, N: number, V: number): void {
  const logV = Math.log(V);
  for (let r = 0; r < N; r++) {
    const o = r * V;
    let m = Number.NEGATIVE_INFINITY;
    let mean = 0;
    for (let j = 0; j < V; j++) {
      const z = logits[o + j];
      if (z > m) m = z;
      mean += z;
    }
    mean /= V;
    let s = 0;
    let sz = 0; // sum exp(z - m) * z
    for (let j = 0; j < V; j++) {
      const e = Math.exp(logits[o + j] - m);
      s += e;
      sz += e * logits[o + j];
    }
    const l = m + Math.log(s);
    lse[r] = l;
    const t = targets[r];
    out[r * 3] = t >= 0 ? logits[o + t] - l : 0;
    out[r * 3 + 1] = l - sz / s; // H = lse - E_p[z]
    out[r * 3 + 2] = l - mean - logV; // KL(U || p)
  }
}

export function tokenStatsBackward(
  dLogits: F,
  dOut: F,
  logits: F,
  lse: F,
  targets: Int32Array,
  N: number,
  V: number,
): void {
  const invV = 1 / V;
  for (let r = 0; r < N; r++) {
    const o = r * V;
    const t = targets[r];
    const gL = t >= 0 ? dOut[r * 3] : 0; // ignored positions have a constant log p of 0
    const gH = dOut[r * 3 + 1];
    const gS = dOut[r * 3 + 2];
    if (gL === 0 && gH === 0 && gS === 0) continue;
    const l = lse[r];
    let H = 0;
    if (gH !== 0) {
      for (let j = 0; j < V; j++) {
        const lp = logits[o + j] - l;
        H -= Math.exp(lp) * lp;
      }
    }
    for (let j = 0; j < V; j++) {
      const lp = logits[o + j] - l;
      const p = Math.exp(lp);
      let g = -gL * p + gS * (p - invV);
      if (gH !== 0) g -= gH * p * (lp + H);
      dLogits[o + j] += g;
    }
    if (t >= 0) dLogits[o + t] += gL;
  }
}

export function adamw(param: F, grad: F, m: F, v: F, hp: AdamWStep): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const mh = m[i] / bc1;
    const vh = v[i] / bc2;
    // Decoupled weight decay (Loshchilov & Hutter), applied as PyTorch's AdamW does.
    param[i] = param[i] * (1 - lr * weightDecay) - (lr * mh) / (Math.sqrt(vh) + eps);
  }
}
