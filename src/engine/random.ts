// Seeded pseudo-random numbers: the one RNG of the package. Reproducibility matters more than
// quality here: the same seed must give the same run on every machine, so no Math.random.
//
// One API (`SeededRandom`: below, int, bool, choice, weighted, shuffle, permutation, normal) over two
// 32-bit generators. Two, because each one's stream is baked into what it produced: `Random`
// (splitmix32) drew the committed models' weights, sampling and prompt order; `Rng` (mulberry32,
// string seeds, forks) drew the synthetic world's problems. Swapping either would change every
// generated number.

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

/** Everything drawn from a uniform [0, 1) stream; subclasses supply `next()`. */
export abstract class SeededRandom {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  abstract next(): number;

  /** Uniform integer in [0, n): the same draw as int(0, n - 1). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new Error(`Rng.int: need integers lo <= hi, got ${lo}, ${hi}`);
    }
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  bool(p: number): boolean {
    return this.next() < p;
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.choice: empty array");
    return items[this.below(items.length)]!;
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

  /** A shuffled copy (Fisher-Yates, drawing from the last index down). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (the shuffle of 0..n-1). */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** splitmix32-style generator with a serialisable state: weight init, sampling, prompt order. */
export class Random extends SeededRandom {
  state: number;
  constructor(seed: number) {
    super();
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  }
}

/** mulberry32 with string seeds and labelled forks: the synthetic world and its corpus. */
export class Rng extends SeededRandom {
  private s: number;

  constructor(seed: number | string) {
    super();
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

  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An independent stream derived from this one's seed lineage and a label; does not advance this stream. */
  fork(label: string): Rng {
    return Rng.fromState(fmix32(this.s ^ hashString(label)));
  }
}
