// The study library (src/study/): its plan, resume and lock logic, the check that a study folder
// holds one plan, and the mixing path's template choice.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isFinished } from "../src/analysis/runs.ts";
import { conditionKey } from "../src/analysis/summary.ts";
import { createWasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { getBackend, setBackend } from "../src/engine/tensor.ts";
import { executeStudy } from "../src/study/execute.ts";
import { ensureMixModel } from "../src/study/mix.ts";
import { methodsNote } from "../src/study/notes.ts";
import { checkSameStudy, planStudy, selectRuns } from "../src/study/plan.ts";
import { PROFILES, type Profile, restrictMethods, restrictRewards } from "../src/study/profiles.ts";
import { loadStudyRuns } from "../src/study/report.ts";
import { writeSyntheticRun } from "./helpers/synthetic-runs.ts";

const root = mkdtempSync(join(tmpdir(), "rlif-study-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("study resume", () => {
  test("a run is finished when its metrics reach the last step, or when its guard ended it", () => {
    const d = writeSyntheticRun(join(root, "fin"), { steps: 6, acc: { 0: 0.1, 6: 0.2 } });
    assert.equal(isFinished(d, 6), true);
    assert.equal(isFinished(d, 7), false);
    const g = writeSyntheticRun(join(root, "guarded"), {
      steps: 10,
      acc: { 0: 0.1 },
      guardFiredAt: 4,
      rollbackTo: 0,
    });
    assert.equal(isFinished(g, 10, { guardEnds: true }), true);
    assert.equal(isFinished(g, 10), false, "a warn-only guard line does not end a run");
    assert.equal(isFinished(join(root, "absent"), 1), false);
  });

  test("the report loads finished runs only and names those still training", () => {
    const out = join(root, "report-runs");
    // α = 0 of the mixing path is the base self-certainty run itself: named once while it trains.
    const profile = { ...PROFILES.quick, steps: 6, alphas: [0], guard: null, instructRewards: [] };
    const plan = planStudy({ out, base: "b", instruct: "i", profile });
    const sc = plan.findIndex((r) => r.id === "base-self-certainty-s0");
    const other = plan.findIndex((r) => r.id === "base-correctness-s0");
    writeSyntheticRun(plan[other].dir, { steps: 6, acc: { 0: 0.1, 6: 0.2 } });
    writeSyntheticRun(plan[sc].dir, { steps: 3, acc: { 0: 0.1 } }); // another process is training it
    const { finished, unfinished } = loadStudyRuns(plan);
    assert.deepEqual(
      finished.map((r) => r.id),
      [plan[other].id],
    );
    assert.deepEqual(unfinished, ["base-self-certainty-s0"]);
    // A damaged metrics file is an error that names it and the line, not a run silently left out.
    writeFileSync(join(plan[other].dir, "metrics.jsonl"), '{"step":0}\n{oops\n{"step":1}\n');
    assert.throws(() => loadStudyRuns(plan), /metrics\.jsonl:2: not valid JSON/);
  });

  test("finished runs are skipped, interrupted ones resumed, new ones trained", async () => {
    const out = join(root, "study");
    const profile = { ...PROFILES.quick, steps: 6, alphas: [0], guard: null, instructRewards: [] };
    const plan = planStudy({ out, base: "b", instruct: "i", profile });
    assert.deepEqual(
      plan.map((r) => `${r.group}:${r.id}`),
      [
        "base:base-self-certainty-s0",
        "base:base-token-entropy-s0",
        "base:base-trajectory-entropy-s0",
        "base:base-correctness-s0",
        "mix:base-self-certainty-s0", // α = 0 is the base model: its run is shared
      ],
    );
    writeSyntheticRun(plan[0].dir, { steps: 6, acc: { 0: 0.1, 6: 0.2 } }); // finished
    writeSyntheticRun(plan[1].dir, { steps: 3, acc: { 0: 0.1 } }); // interrupted at step 3
    mkdirSync(join(plan[1].dir, "checkpoints"));
    const calls: { out: string; resume?: boolean }[] = [];
    const done = await executeStudy(
      plan,
      async (cfg, o) => {
        calls.push({ out: cfg.out, resume: o.resume });
      },
      () => {},
    );
    assert.deepEqual(
      done.map((d) => `${d.id}:${d.action}`),
      [
        "base-self-certainty-s0:skipped",
        "base-token-entropy-s0:resumed",
        "base-trajectory-entropy-s0:trained",
        "base-correctness-s0:trained",
      ],
    );
    assert.deepEqual(
      calls.map((c) => c.resume),
      [true, false, false],
    );
    assert.equal(calls[0].out, plan[1].dir);
  });

  test("the full plan: guard runs per internal reward with their thresholds; --only keeps shared runs with their owner", () => {
    const plan = planStudy({ out: join(root, "plan"), base: "b", instruct: "i", profile: PROFILES.full });
    const guard = plan.filter((r) => r.group === "guard");
    assert.deepEqual(
      guard.map((r) => r.id),
      ["guard-self-certainty-s0", "guard-token-entropy-s0", "guard-trajectory-entropy-s0"],
    );
    for (const g of guard) {
      assert.equal(g.cfg.guard.mode, "rollback");
      assert.equal(g.cfg.guard.entropy_drop, PROFILES.full.guard?.entropy_drop);
      assert.equal(g.guardEnds, true);
    }
    // 20 base + 10 instruct + 20 mixed (α > 0) + 3 guard runs, 5 α = 0 entries shared with base,
    // and 7 conditions beyond the paper × 5 seeds.
    assert.equal(new Set(plan.map((r) => r.dir)).size, 53 + 35);
    const mix = selectRuns(plan, ["mix"]);
    assert.equal(mix.length, 20);
    assert.ok(mix.every((r) => r.group === "mix" && r.mix && r.alpha !== 0));
    assert.equal(selectRuns(plan, ["base"]).length, 25 + 35, "base trains the α = 0 runs and the methods");
    // Test on organism:test-id at 0, the pre-registered early step and the end; validation on
    // organism:val-id at every evaluation step; every evaluation step's checkpoint kept.
    const c = plan[0].cfg;
    assert.deepEqual(
      [c.eval.source, c.eval.limit, c.eval.k, c.eval.test_steps, c.val.source, c.val.limit, c.val.k],
      ["organism:test-id", 512, 8, "16", "organism:val-id", 128, 8],
    );
    assert.ok(c.keep_checkpoints > c.steps / c.eval.every);
  });

  test("--rewards keeps only the conditions trained with those rewards, and names the valid ones", () => {
    const o = { out: join(root, "plan"), base: "b", instruct: "i" };
    const control = planStudy({ ...o, profile: restrictRewards(PROFILES.full, ["correctness"]) });
    assert.deepEqual(
      selectRuns(control, ["base", "instruct", "guard"]).map((r) => r.id),
      [0, 1, 2, 3, 4]
        .map((s) => `base-correctness-s${s}`)
        .concat([0, 1, 2, 3, 4].map((s) => `instruct-correctness-s${s}`)),
    );
    const sc = restrictRewards(PROFILES.full, ["self-certainty", "random"]);
    assert.deepEqual(sc.guard?.rewards, ["self-certainty"]);
    assert.deepEqual(
      sc.methods?.map((m) => m.reward),
      ["random", "random", "random", "self-certainty", "self-certainty"],
    );
    assert.throws(
      () => restrictRewards(PROFILES.quick, ["corectness"]),
      /"corectness" is not a reward.*valid: .*correctness/,
    );
  });

  test("--methods keeps only those conditions beyond the paper, and names the valid ones", () => {
    const o = { out: join(root, "plan"), base: "b", instruct: "i" };
    const random = planStudy({ ...o, profile: restrictMethods(PROFILES.full, ["random"]) });
    assert.deepEqual(
      selectRuns(random, ["base", "instruct", "guard"]).map((r) => r.id),
      [0, 1, 2, 3, 4].map((s) => `base-random-s${s}`),
    );
    assert.throws(
      () => restrictMethods(PROFILES.full, ["randm"]),
      /"randm" is not a method of the full profile \(valid: random, majority-vote/,
    );
    assert.throws(() => restrictMethods(PROFILES.quick, ["random"]), /valid: none/);
  });

  test("the full plan adds the methods beyond the paper, each with its overrides, after the paper's runs unchanged", () => {
    const o = { out: join(root, "plan"), base: "b", instruct: "i" };
    const plan = planStudy({ ...o, profile: PROFILES.full });
    const paper = planStudy({ ...o, profile: { ...PROFILES.full, methods: undefined } });
    // The paper's runs keep their ids, folders, configs and order; the methods come after them.
    assert.deepEqual(plan.slice(0, paper.length), paper);
    assert.ok(paper.every((r) => !r.method && !r.candidate));
    for (const id of [
      "base-self-certainty-s0",
      "base-correctness-s4",
      "instruct-correctness-s2",
      "mix-a0.25-s1",
    ])
      assert.ok(
        paper.some((r) => r.id === id && r.dir === join(o.out, "runs", id)),
        id,
      );
    const added = plan.slice(paper.length);
    assert.equal(added.length, 35);
    const s0 = added.filter((r) => r.seed === 0);
    assert.deepEqual(
      s0.map((r) => [r.id, r.group, r.reward, conditionKey(r)]),
      [
        ["base-random-s0", "base", "random", "base/random"],
        ["base-majority-vote-s0", "base", "majority-vote", "base/majority-vote"],
        ["base-random-mb4-s0", "base", "random", "base/random-mb4"],
        ["base-random-mb4-noclip-s0", "base", "random", "base/random-mb4-noclip"],
        ["base-self-certainty-mb4-s0", "base", "self-certainty", "base/self-certainty-mb4"],
        [
          "base-self-certainty-klcov-mb4-k0.002-s0",
          "base",
          "self-certainty",
          "base/self-certainty-klcov-mb4-k0.002",
        ],
        [
          "base-self-certainty-klcov-mb4-k0.01-s0",
          "base",
          "self-certainty",
          "base/self-certainty-klcov-mb4-k0.01",
        ],
      ],
    );
    const cfg = (id: string) => s0.find((r) => r.id === id)!.cfg;
    const algo = (id: string) => {
      const a = cfg(id).algo;
      return [a.policy_loss, a.mini_batches, a.cov_ratio, a.kl_cov_coef];
    };
    // The control and the vote train exactly as the paper's internal rewards do (vanilla, 1 update).
    const paperAlgo = paper.find((r) => r.id === "base-self-certainty-s0")?.cfg.algo;
    assert.deepEqual(cfg("base-random-s0").algo, paperAlgo);
    assert.deepEqual(cfg("base-majority-vote-s0").algo, paperAlgo);
    assert.equal(cfg("base-random-s0").reward_options.random_p, 0.5);
    assert.deepEqual(algo("base-random-mb4-s0").slice(0, 2), ["vanilla", 4]);
    assert.deepEqual(algo("base-random-mb4-noclip-s0").slice(0, 2), ["unclipped", 4]);
    assert.deepEqual(algo("base-self-certainty-mb4-s0").slice(0, 2), ["vanilla", 4]);
    assert.deepEqual(algo("base-self-certainty-klcov-mb4-k0.002-s0"), ["kl-cov", 4, 0.002, 1]);
    assert.deepEqual(algo("base-self-certainty-klcov-mb4-k0.01-s0"), ["kl-cov", 4, 0.01, 1]);
    // Everything else is the profile's (evaluation, rollouts, lr) and each method has all 5 seeds.
    const {
      out: _a,
      reward: _b,
      reward_options: _c,
      algo: _d,
      ...rest
    } = cfg("base-self-certainty-klcov-mb4-k0.01-s0");
    const { out: _e, reward: _f, reward_options: _g, algo: _h, ...paperRest } = paper[0].cfg;
    assert.deepEqual(rest, paperRest);
    assert.equal(new Set(added.map((r) => conditionKey(r))).size, 7);
    assert.ok(
      [...new Set(added.map((r) => conditionKey(r)))].every(
        (k) => added.filter((r) => conditionKey(r) === k).length === 5,
      ),
    );
    // The report's notes list each method's settings.
    const note = methodsNote(PROFILES.full)[0];
    assert.match(
      note,
      /random-mb4-noclip \(reward random, reward_options\.random_p 0\.5, algo\.mini_batches 4, algo\.policy_loss unclipped\)/,
    );
    assert.match(
      note,
      /chosen on validation among k0\.002: algo\.cov_ratio 0\.002 \/ k0\.01: algo\.cov_ratio 0\.01/,
    );
    // The quick profile has none (npm start stays as it was).
    assert.equal(PROFILES.quick.methods, undefined);
    assert.deepEqual(methodsNote(PROFILES.quick), []);
    assert.ok(planStudy({ ...o, profile: PROFILES.quick }).every((r) => !r.method));
  });

  test("a method's bad setting is an error naming the run and the field", () => {
    const profile = {
      ...PROFILES.quick,
      methods: [{ name: "x", reward: "random", config: { algo: { policy_loss: "nope" } } }],
    };
    assert.throws(
      () => planStudy({ out: join(root, "bad"), base: "b", instruct: "i", profile }),
      /study run base-x-s0[\s\S]*algo\.policy_loss/,
    );
  });

  test("methods may be added to a study folder, not changed or removed", () => {
    const dir = join(root, "grow");
    mkdirSync(dir, { recursive: true });
    const plan = join(dir, "plan.json");
    const ids = { base: "organism-base", instruct: "organism-instruct" };
    const { methods, ...before } = PROFILES.full;
    writeFileSync(plan, JSON.stringify({ ...ids, profile: before, runs: [] }));
    checkSameStudy(plan, { ...ids, profile: PROFILES.full }); // a study from before the methods
    writeFileSync(
      plan,
      JSON.stringify({ ...ids, profile: { ...before, methods: methods?.slice(0, 2) }, runs: [] }),
    );
    checkSameStudy(plan, { ...ids, profile: PROFILES.full }); // more methods than it had
    const changed = methods?.map((m, i) =>
      i === 0 ? { ...m, config: { reward_options: { random_p: 0.3 } } } : m,
    );
    writeFileSync(plan, JSON.stringify({ ...ids, profile: { ...before, methods: changed }, runs: [] }));
    assert.throws(() => checkSameStudy(plan, { ...ids, profile: PROFILES.full }), /profile\.methods differ/);
    // An invocation with fewer methods trains fewer, and the folder keeps the ones it had.
    writeFileSync(plan, JSON.stringify({ ...ids, profile: PROFILES.full, runs: [] }));
    const kept = checkSameStudy(plan, { ...ids, profile: { ...PROFILES.full, methods: methods?.slice(1) } });
    assert.deepEqual(
      kept.methods?.map((m) => m.name),
      methods?.map((m) => m.name),
    );
  });

  test("--rewards adds conditions to a study folder, in any order, and a changed setting is refused", () => {
    const dir = join(root, "rewards");
    mkdirSync(dir, { recursive: true });
    const plan = join(dir, "plan.json");
    const ids = { base: "organism-base", instruct: "organism-instruct" };
    const write = (profile: unknown) => writeFileSync(plan, JSON.stringify({ ...ids, profile, runs: [] }));
    const names = (p: Profile) => planStudy({ out: dir, ...ids, profile: p }).map((r) => r.id);
    const control = restrictRewards(PROFILES.full, ["correctness"]);
    const selfCertainty = restrictRewards(PROFILES.full, ["self-certainty"]);
    // The control first, then one internal reward: the folder holds both, the control's runs first.
    write(control);
    const grown = checkSameStudy(plan, { ...ids, profile: selfCertainty });
    assert.deepEqual(grown.baseRewards, ["correctness", "self-certainty"]);
    assert.deepEqual(grown.guard?.rewards, selfCertainty.guard?.rewards);
    const ids2 = names(grown);
    // (α = 0 of the mixing path is its own run only while the folder has no self-certainty runs.)
    const lost = [...names(control), ...names(selfCertainty)].filter((id) => !ids2.includes(id));
    assert.deepEqual(lost, ["mix-a0-s0", "mix-a0-s1", "mix-a0-s2", "mix-a0-s3", "mix-a0-s4"]);
    assert.deepEqual(ids2.slice(0, 3), [
      "base-correctness-s0",
      "base-self-certainty-s0",
      "base-correctness-s1",
    ]);
    // The whole study after the control, and the control again after the whole study: nothing lost.
    write(control);
    assert.deepEqual(
      names(checkSameStudy(plan, { ...ids, profile: PROFILES.full })).sort(),
      names(PROFILES.full).sort(),
    );
    write(PROFILES.full);
    assert.deepEqual(names(checkSameStudy(plan, { ...ids, profile: control })), names(PROFILES.full));
    // Methods added in another order than the profile's (self-certainty's first, then the random
    // control): the whole study is still the same study.
    write(restrictRewards(PROFILES.full, ["self-certainty"]));
    write(checkSameStudy(plan, { ...ids, profile: restrictMethods(PROFILES.full, ["random"]) }));
    assert.deepEqual(
      names(checkSameStudy(plan, { ...ids, profile: PROFILES.full })).sort(),
      names(PROFILES.full).sort(),
    );
    // A setting is not a condition: changing it is refused, as is another guard threshold.
    write(control);
    assert.throws(
      () => checkSameStudy(plan, { ...ids, profile: { ...PROFILES.full, lr: 1e-3 } }),
      /profile\.lr differ/,
    );
    write(PROFILES.full);
    const guard = PROFILES.full.guard && { ...PROFILES.full.guard, patience: 9 };
    assert.throws(
      () => checkSameStudy(plan, { ...ids, profile: { ...PROFILES.full, guard } }),
      /profile\.guard\.patience differ/,
    );
  });

  test("two processes share a study: a run locked by a live process is skipped, a stale lock is taken over", async () => {
    const out = join(root, "shared");
    const profile = {
      ...PROFILES.quick,
      steps: 6,
      alphas: [0],
      guard: null,
      instructRewards: [],
      baseRewards: ["self-certainty", "correctness"],
    };
    const plan = planStudy({ out, base: "b", instruct: "i", profile });
    mkdirSync(plan[0].dir, { recursive: true });
    mkdirSync(plan[1].dir, { recursive: true });
    writeFileSync(join(plan[0].dir, ".lock"), String(process.ppid)); // a live process
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid;
    writeFileSync(join(plan[1].dir, ".lock"), String(dead)); // its owner has exited
    const trained: string[] = [];
    const done = await executeStudy(
      plan,
      async (cfg) => {
        assert.ok(existsSync(join(cfg.out, ".lock")), "the lock is held while training");
        trained.push(cfg.out);
      },
      () => {},
    );
    assert.deepEqual(
      done.map((d) => `${d.id}:${d.action}`),
      ["base-self-certainty-s0:skipped", "base-correctness-s0:trained"],
    );
    assert.deepEqual(trained, [plan[1].dir]);
    assert.ok(!existsSync(join(plan[1].dir, ".lock")), "released after training");
    assert.ok(existsSync(join(plan[0].dir, ".lock")), "another process's lock is left alone");
  });

  test("a study folder made with other settings is refused, naming what differs", () => {
    const plan = join(root, "other", "plan.json");
    mkdirSync(join(root, "other"), { recursive: true });
    const now = { profile: PROFILES.quick, base: "organism-base", instruct: "organism-instruct" };
    checkSameStudy(plan, now); // no plan yet: fine
    writeFileSync(plan, JSON.stringify({ ...now, runs: [] }));
    checkSameStudy(plan, now); // the same settings: fine
    writeFileSync(
      plan,
      JSON.stringify({
        ...now,
        profile: { ...PROFILES.quick, lr: 1, eval: { ...PROFILES.quick.eval, k: 0 } },
      }),
    );
    assert.throws(() => checkSameStudy(plan, now), /other settings \(profile\.lr, profile\.eval\.k differ\)/);
    writeFileSync(plan, "{");
    assert.throws(() => checkSameStudy(plan, now), /unreadable/);
  });

  test("a mixed model is prompted with the template it answers best on training problems", async () => {
    const prev = getBackend();
    setBackend(createWasmBackend({ threads: 1 }));
    try {
      for (const [alpha, want] of [
        [0, "base"],
        [1, "instruct"],
      ] as const) {
        const dir = join(root, "mix", `a${alpha}`);
        await ensureMixModel(dir, { base: "organism-base", instruct: "organism-instruct", alpha }, 96);
        const choice = JSON.parse(readFileSync(join(dir, "template-choice.json"), "utf8"));
        assert.equal(choice.chosen, want);
        assert.equal(choice.on.source, "organism:train", "chosen on training problems, not held-out ones");
        const other = want === "base" ? "instruct" : "base";
        assert.ok(choice.greedy_accuracy[want] > choice.greedy_accuracy[other], JSON.stringify(choice));
        assert.equal(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).rlif_kind, want);
        assert.ok(existsSync(join(dir, "tokenizer.json")));
        const written = statSync(join(dir, "model.safetensors")).mtimeMs;
        await ensureMixModel(dir, { base: "organism-base", instruct: "organism-instruct", alpha }, 96);
        assert.equal(statSync(join(dir, "model.safetensors")).mtimeMs, written, "an existing model is kept");
      }
    } finally {
      setBackend(prev);
    }
  });
});
