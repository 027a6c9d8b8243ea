import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashString, Random, Rng } from "../src/engine/random.ts";

describe("Rng", () => {
  it("is reproducible from a seed and differs across seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 100 }, () => a.next());
    assert.deepEqual(
      Array.from({ length: 100 }, () => b.next()),
      xs,
    );
    assert.notDeepEqual(
      Array.from({ length: 100 }, () => c.next()),
      xs,
    );
    assert.notDeepEqual(new Rng("x").next(), new Rng("y").next());
    // Seeds that agree in their low 32 bits still differ.
    assert.notEqual(new Rng(1).next(), new Rng(2 ** 32 + 1).next());
  });

  it("next() is uniform on [0, 1): mean and variance", () => {
    const r = new Rng(7);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    // Standard error of the mean: sqrt(1/12 / n) ~ 0.002.
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 0.005, `variance ${variance}`);
  });

  it("int() covers [lo, hi] inclusively and roughly evenly", () => {
    const r = new Rng(1);
    const counts = new Map<number, number>();
    for (let i = 0; i < 6000; i++) {
      const k = r.int(-2, 3);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    assert.deepEqual(
      [...counts.keys()].sort((x, y) => x - y),
      [-2, -1, 0, 1, 2, 3],
    );
    for (const c of counts.values()) assert.ok(c > 850 && c < 1150, `count ${c}`);
    assert.equal(r.int(5, 5), 5);
    assert.throws(() => r.int(3, 2), /lo <= hi/);
    assert.throws(() => r.int(0.5, 2), /integers/);
  });

  it("weighted() follows the weights; choice/shuffle behave", () => {
    const r = new Rng(3);
    let a = 0;
    for (let i = 0; i < 10000; i++) if (r.weighted({ a: 3, b: 1, c: 0 }) === "a") a++;
    assert.ok(Math.abs(a / 10000 - 0.75) < 0.02, `a frac ${a / 10000}`);
    assert.throws(() => r.weighted({ a: 0 }), /sum to zero/);
    assert.throws(() => r.weighted({ a: -1, b: 2 }), /negative/);
    assert.throws(() => r.choice([]), /empty/);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = r.shuffle(items);
    assert.notDeepEqual(shuffled, items);
    assert.deepEqual(
      [...shuffled].sort((x, y) => x - y),
      items,
    );
  });

  it("state round-trips and fork() gives an independent stream without advancing", () => {
    const r = new Rng(9);
    r.next();
    const copy = Rng.fromState(r.state);
    assert.equal(copy.next(), r.next());
    const before = r.state;
    const f1 = r.fork("a");
    const f2 = r.fork("b");
    assert.equal(r.state, before);
    assert.notEqual(f1.next(), f2.next());
    assert.equal(r.fork("a").next(), Rng.fromState(before).fork("a").next());
  });

  it("hashString is deterministic and spreads similar strings", () => {
    assert.equal(hashString("abc"), hashString("abc"));
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 5000; i++) buckets[hashString(`k${i}`) % 10]++;
    for (const b of buckets) assert.ok(b > 400 && b < 600, `bucket ${b}`);
  });
});

describe("Random and Rng share one API over two streams", () => {
  // Values drawn by the two generators before they were merged into src/engine/random.ts: the
  // committed models, the study and the world depend on them staying put.
  it("Random (splitmix32) draws what it drew before the merge", () => {
    const r = new Random(7);
    assert.deepEqual(r.permutation(10), [8, 6, 0, 5, 9, 2, 3, 7, 4, 1]);
    assert.equal(r.int(0, 999), 256);
    assert.equal(r.normal(), -1.9461756235812029);
  });

  it("Rng (mulberry32) draws what it drew before the merge", () => {
    const g = new Rng("w");
    assert.deepEqual(g.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), [6, 8, 2, 7, 4, 5, 9, 1, 0, 3]);
    assert.equal(g.int(3, 900), 867);
    assert.equal(g.fork("x").next(), 0.3284823789726943);
  });

  it("below(n) is int(0, n - 1): the same draw", () => {
    const a = new Random(11);
    const b = new Random(11);
    for (let i = 1; i < 50; i++) assert.equal(a.below(i), b.int(0, i - 1));
  });

  it("permutation(n) is the shuffle of 0..n-1 on both", () => {
    for (const mk of [() => new Random(3), () => new Rng(3)])
      assert.deepEqual(mk().permutation(17), mk().shuffle(Array.from({ length: 17 }, (_, i) => i)));
  });
});
