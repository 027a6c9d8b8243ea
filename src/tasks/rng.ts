// Small seeded PRNG (mulberry32) and helpers. Everything in the synthetic world, and anything else
// that must be reproducible from a seed, draws from an Rng; Math.random is never used.

/** 32-bit FNV-1a hash of a string, finished with a murmur3 avalanche so nearby strings spread out. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** murmur3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Turns any seed (number or string) into a well-mixed uint32 state. */
export function seedToState(seed: number | string): number {
  if (typeof seed === "string") return hashString(seed);
  if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}`);
  // Mix both halves of the (possibly > 32-bit) integer so that e.g. 1 and 2**32 + 1 differ.
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return fmix32(lo ^ fmix32(hi + 0x9e3779b9));
}

export class Rng {
  private s: number;

  constructor(seed: number | string) {
    this.s = seedToState(seed);
  }

  /** The internal state, for checkpointing; `Rng.fromState(rng.state)` continues the same stream. */
  get state(): number {
    return this.s;
  }

  static fromState(state: number): Rng {
    const r = new Rng(0);
    r.s = state >>> 0;
    return r;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness (mulberry32). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new Error(`Rng.int: need integers lo <= hi, got ${lo}, ${hi}`);
    }
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  bool(p: number): boolean {
    return this.next() < p;
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.choice: empty array");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks a key with probability proportional to its weight (weights need not sum to 1). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    let total = 0;
    for (const [, w] of entries) {
      if (!(w >= 0)) throw new Error(`Rng.weighted: negative or NaN weight ${w}`);
      total += w;
    }
    if (total <= 0) throw new Error("Rng.weighted: weights sum to zero");
    let u = this.next() * total;
    for (const [k, w] of entries) {
      u -= w;
      if (u < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** An independent stream derived from this one's seed lineage and a label; does not advance this stream. */
  fork(label: string): Rng {
    return Rng.fromState(fmix32(this.s ^ hashString(label)));
  }
}
