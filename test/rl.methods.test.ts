// The label-free RL methods wired into the trainer: config validation and --help-visible keys,
// reward options per term, vote-only extra samples, dynamic sampling rounds, truncation masking,
// the per-step metrics, and that runs using random draws (random reward, Clip-Cov, resampled
// prompts) repeat and resume exactly.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Command } from "commander";
import { addConfigOptions, resolveConfig } from "../src/cli/options.ts";
import { AdamW } from "../src/engine/optim.ts";
import type { RewardResult } from "../src/rewards/types.ts";
import { rewardTerms, TrainConfigSchema } from "../src/rl/config.ts";
import { gatherGroups, type Round } from "../src/rl/dynamic-sampling.ts";
import { update } from "../src/rl/optimize.ts";
import type { Rollout } from "../src/rl/rollout.ts";
import { scoreRewards } from "../src/rl/score.ts";
import { trainRl } from "../src/rl/trainer.ts";
import { EOS, toyConfig, toyDeps, toyModel } from "./helpers/toy-rl.ts";

function rollout(text: string, group: number, truncated = false): Rollout {
  const ids = [...text].map((c) => "abcdefg".indexOf(c));
  const T = ids.length;
  return {
    promptIds: [0],
    responseIds: ids,
    responseText: text,
    gold: "c",
    logp: new Float32Array(T).fill(-1),
    entropy: new Float32Array(T).fill(1),
    selfCertainty: new Float32Array(T).fill(0.5),
    truncated,
    group,
  };
}

function metricsOf(out: string): Record<string, unknown>[] {
  return readFileSync(join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((m) => m.event === undefined && m.eval === undefined);
}

/** A metrics line without its wall-clock fields. */
function untimed(m: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(m).filter(([k]) => !/time|per_s/.test(k)));
}

describe("config of the methods", () => {
  test("new keys validate with errors that name them", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ "algo.policy_loss": "ppo" }, /algo\.policy_loss/],
      [{ "algo.clip_ratio_c": "0.5" }, /algo\.clip_ratio_c.*must be 0 \(off\) or > 1/s],
      [{ "algo.clip_ratio_c": "3", "algo.policy_loss": "gspo" }, /algo\.clip_ratio_c.*vanilla only/s],
      [{ "algo.cov_lb": "5", "algo.cov_ub": "1" }, /algo\.cov_lb.*below cov_ub/s],
      [{ "algo.cov_ratio": "0" }, /algo\.cov_ratio/],
      [{ "algo.zero_std": "skip" }, /algo\.zero_std/],
      [{ "reward_options.last_k": "4", "reward_options.last_frac": "0.5" }, /last_k or last_frac, not both/],
      [{ "reward_options.random_p": "1.5" }, /reward_options\.random_p/],
      [{ "reward_options.vote_tie": "last" }, /reward_options\.vote_tie/],
      [{ "rollout.vote_extra": "-1" }, /rollout\.vote_extra/],
      [{ reward: "majority-vote:1,popularity:1" }, /unknown reward "popularity"/],
    ];
    for (const [flags, re] of bad) assert.throws(() => resolveConfig(TrainConfigSchema, flags), re);
    const ok = resolveConfig(TrainConfigSchema, {
      reward: "majority-vote",
      "algo.policy_loss": "kl-cov",
      "algo.zero_std": "resample",
      "algo.clip_ratio_c": "0",
    });
    assert.equal(ok.algo.policy_loss, "kl-cov");
    assert.equal(ok.algo.zero_std, "resample");
  });

  test("every new option is listed by rlif train --help, with its choices", () => {
    const help = addConfigOptions(new Command("train"), TrainConfigSchema).helpInformation();
    for (const flag of [
      "--reward_options.last_k <number>",
      "--reward_options.last_frac <number>",
      "--reward_options.random_p <number>",
      "--reward_options.vote_tie <first|none>",
      "--reward_options.overlong_buffer <number>",
      "--reward_options.overlong_factor <number>",
      "--rollout.vote_extra <number>",
      "--algo.policy_loss <vanilla|unclipped|gspo|clip-cov|kl-cov>",
      "--algo.clip_ratio_c <number>",
      "--algo.cov_ratio <number>",
      "--algo.cov_lb <number>",
      "--algo.cov_ub <number>",
      "--algo.kl_cov_coef <number>",
      "--algo.zero_std <keep|drop|resample>",
      "--algo.max_rounds <number>",
      "--algo.mask_truncated <boolean>",
    ])
      assert.ok(help.includes(flag), `--help lacks ${flag}`);
    assert.match(help, /majority-vote, semantic-entropy, random\)/);
  });

  test("rewardTerms gives each term the options meant for it", () => {
    const cfg = resolveConfig(TrainConfigSchema, {
      reward: "self-certainty:1,random:0.5,majority-vote:2,correctness:1",
      "reward_options.last_frac": "0.25",
      "reward_options.random_p": "0.2",
      "reward_options.vote_tie": "none",
    });
    assert.deepEqual(rewardTerms(cfg), [
      { name: "self-certainty", weight: 1, options: { last_frac: 0.25 } },
      { name: "random", weight: 0.5, options: { p: 0.2 } },
      { name: "majority-vote", weight: 2, options: { tie: "none" } },
      { name: "correctness", weight: 1, options: {} },
    ]);
    const k = resolveConfig(TrainConfigSchema, { reward: "token-entropy", "reward_options.last_k": "3" });
    assert.deepEqual(rewardTerms(k)[0].options, { last_k: 3 });
  });
});

describe("scoring", () => {
  const settings = (over: Partial<Parameters<typeof scoreRewards>[1]> = {}) => {
    const cfg = toyConfig("unused", { reward: "majority-vote" });
    return {
      terms: rewardTerms(cfg),
      mode: cfg.reward_mode,
      grade: toyDeps().grade,
      algo: cfg.algo,
      rewardOptions: cfg.reward_options,
      groupSize: 2,
      maxNewTokens: 4,
      seed: 0,
      temperature: 1,
      ref: null,
      pad: EOS,
      ...over,
    };
  };

  test("vote-only extras vote, then are dropped", () => {
    // group 0: trained "a…", "b…"; extra voters "b…", "b…" make b the majority
    const batch = [rollout("ab", 0), rollout("ba", 0), rollout("bb", 0), rollout("bc", 0)];
    const s = scoreRewards([...batch, rollout("cc", 1), rollout("ca", 1)], settings(), 0);
    assert.deepEqual(
      s.rollouts.map((r) => r.responseText),
      ["ab", "ba", "cc", "ca"],
    );
    assert.deepEqual([...s.rewards.train], [0, 1, 1, 1]);
    assert.deepEqual(s.rewards.values["majority-vote"], [0, 1, 1, 1]);
    // without extras (group size 4) the same group votes the same way and all four are kept
    assert.deepEqual([...scoreRewards(batch, settings({ groupSize: 4 }), 0).rewards.train], [0, 1, 1, 1]);
  });

  test("the overlong penalty is added to the training reward and logged", () => {
    const cfg = toyConfig("unused", { reward: "correctness", reward_options: { overlong_buffer: 2 } });
    const s = scoreRewards(
      [rollout("c", 0), rollout("cab", 0), rollout("ccab", 0), rollout("a", 0)],
      settings({ terms: rewardTerms(cfg), rewardOptions: cfg.reward_options, groupSize: 4 }),
      0,
    );
    // max 4, buffer 2: lengths 1, 3, 4, 1 -> penalties 0, −0.5, −1, 0
    assert.deepEqual(s.rewards.values.overlong, [0, -0.5, -1, 0]);
    assert.deepEqual([...s.rewards.train], [1, 0.5, 0, 0]);
  });
});

describe("dynamic sampling", () => {
  /** Round k: groups 10k (flat), 10k+1 (varied), 10k+2 (varied), two responses each. */
  const fake = (flatRounds: number[] = []) => {
    const calls: number[] = [];
    const sample = async (k: number): Promise<Round<{ group: number }>> => {
      calls.push(k);
      const flat = flatRounds.includes(k);
      const train = flat ? [1, 1, 0, 0, 2, 2] : [1, 1, 0, 1, 1, 0];
      const groups = [0, 0, 1, 1, 2, 2].map((g) => 10 * k + g);
      const rewards: RewardResult = { train: Float64Array.from(train), values: { x: train }, empty: [] };
      return { rollouts: groups.map((group) => ({ group })), rewards };
    };
    return { calls, sample };
  };

  test("keep trains on round 0 as it is; drop removes its flat groups", async () => {
    const a = fake();
    const keep = await gatherGroups(a.sample, { mode: "keep", target: 3, maxRounds: 4 });
    assert.deepEqual(a.calls, [0]);
    assert.equal(keep.trained.rollouts.length, 6);
    assert.equal(keep.fracZeroStd, 1 / 3);
    const drop = await gatherGroups(fake().sample, { mode: "drop", target: 3, maxRounds: 4 });
    assert.deepEqual(
      drop.trained.rollouts.map((r) => r.group),
      [1, 1, 2, 2],
    );
    assert.deepEqual(drop.trained.rewards.values.x, [0, 1, 1, 0]);
    assert.equal(drop.groupsTrained, 2);
  });

  test("resample fills the batch from further rounds and discards the surplus", async () => {
    const f = fake();
    const g = await gatherGroups(f.sample, { mode: "resample", target: 3, maxRounds: 4 });
    assert.deepEqual(f.calls, [0, 1]);
    assert.deepEqual(
      g.trained.rollouts.map((r) => r.group),
      [1, 1, 2, 2, 11, 11],
    );
    assert.equal(g.rounds, 2);
    assert.equal(g.groupsTrained, 3);
    assert.equal(g.fracZeroStd, 2 / 6);
    // rounds that bring nothing count; maxRounds stops the search
    const h = await gatherGroups(fake([0, 1, 2]).sample, { mode: "resample", target: 2, maxRounds: 3 });
    assert.equal(h.rounds, 3);
    assert.equal(h.trained.rollouts.length, 0);
    assert.equal(h.fracZeroStd, 1);
    assert.equal(h.observed.rollouts.length, 6, "metrics describe round 0 when nothing is trained");
  });
});

test("mask_truncated: truncated responses take no part in the loss", async () => {
  const model = toyModel(3);
  const base = toyConfig("unused", { algo: { mask_truncated: true } });
  const settings = {
    algo: base.algo,
    temperature: 1,
    gradClip: 1e9,
    maxLen: 4,
    pad: EOS,
    schedule: { lr: 0.01, totalSteps: 1, warmupSteps: 0, minLrRatio: 0, kind: "constant" as const },
    seed: 0,
  };
  const policy = () => ({ model, opt: new AdamW(model.parameters(), { lr: 0.01 }), ref: null });
  const adv = Float64Array.from([-1, 1]); // old log-probs of −1 put ρ near 0.3: A > 0 keeps the gradient
  const all = await update({
    policy: policy(),
    batch: [rollout("ab", 0, true), rollout("ba", 0, true)],
    advantages: adv,
    lr: 0,
    settings,
    random: Math.random,
  });
  assert.equal(all.loss, 0);
  assert.equal(all.grad_norm, 0);
  const one = await update({
    policy: policy(),
    batch: [rollout("ab", 0, true), rollout("ba", 0, false)],
    advantages: adv,
    lr: 0,
    settings,
    random: Math.random,
  });
  const alone = await update({
    policy: policy(),
    batch: [rollout("ba", 0, false)],
    advantages: Float64Array.from([1]),
    lr: 0,
    settings: { ...settings, algo: { ...settings.algo, mask_truncated: false } },
    random: Math.random,
  });
  assert.ok(Math.abs(one.loss - alone.loss) < 1e-6, `${one.loss} vs ${alone.loss}`);
  assert.ok(one.grad_norm > 0, `grad norm ${one.grad_norm}`);
});

describe("training runs with the methods", () => {
  const methods = {
    reward: "random:1,majority-vote:1",
    reward_options: { random_p: 0.5, overlong_buffer: 1 },
    rollout: { prompts_per_step: 2, group_size: 4, vote_extra: 2, max_new_tokens: 3, batch_size: 16 },
    algo: {
      policy_loss: "clip-cov",
      cov_ratio: 0.2,
      cov_lb: -100,
      cov_ub: 100,
      zero_std: "resample",
      max_rounds: 3,
      mask_truncated: true,
    },
  };

  test("every step logs the new metrics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-methods-"));
    try {
      for (const [name, algo] of [
        ["clip-cov", methods.algo],
        ["kl-cov", { policy_loss: "kl-cov", cov_ratio: 0.2 }],
        ["gspo", { policy_loss: "gspo" }],
        ["dual", { clip_ratio_c: 3, zero_std: "drop" }],
      ] as const) {
        const out = join(dir, name);
        await trainRl(toyModel(0), toyConfig(out, { ...methods, steps: 2, algo }), toyDeps());
        const lines = metricsOf(out);
        assert.equal(lines.length, 2, name);
        for (const m of lines) {
          for (const k of [
            "clip_frac_low",
            "clip_frac_high",
            "clip_frac_dual",
            "frac_reward_zero_std",
            "truncated_frac",
          ]) {
            const v = m[k] as number;
            assert.ok(v >= 0 && v <= 1, `${name} ${k} = ${v}`);
          }
          assert.ok(Number.isFinite(m.entropy_cov as number), `${name} entropy_cov`);
          assert.ok((m.groups_trained as number) <= 2 && (m.sampling_rounds as number) >= 1, name);
          assert.ok(
            "reward/overlong" in m && "reward/majority-vote" in m && "reward/semantic-entropy" in m,
            name,
          );
          if (name !== "gspo" && name !== "dual" && (m.groups_trained as number) > 0)
            assert.ok((m.cov_selected_frac as number) > 0, `${name} selected nothing`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a run with random draws repeats exactly and resumes to the same metrics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-methods-"));
    try {
      const cfg = (out: string, steps: number) => toyConfig(out, { ...methods, steps, checkpoint_every: 2 });
      await trainRl(toyModel(0), cfg(join(dir, "a"), 4), toyDeps());
      await trainRl(toyModel(0), cfg(join(dir, "b"), 2), toyDeps());
      await trainRl(toyModel(0), cfg(join(dir, "b"), 4), { ...toyDeps(), resume: true });
      const a = metricsOf(join(dir, "a")).map(untimed);
      const b = metricsOf(join(dir, "b")).map(untimed);
      assert.equal(a.length, 4);
      assert.deepEqual(b, a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
