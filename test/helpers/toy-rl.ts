// A toy RL world small enough for tests: a character codec over "abcdefg" plus an end token, one
// prompt, and a reward that says whether the response starts with the gold letter.

import type { TextCodec } from "../../src/eval/evaluate.ts";
import { parseModelConfig } from "../../src/model/config.ts";
import { Transformer } from "../../src/model/transformer.ts";
import { type TrainConfig, TrainConfigSchema } from "../../src/rl/config.ts";
import type { TrainerDeps } from "../../src/rl/trainer.ts";

const CHARS = "abcdefg";
export const EOS = CHARS.length;

export const toyCodec: TextCodec = {
  encode: (t) => [...t].map((c) => CHARS.indexOf(c)),
  decode: (ids) => ids.map((i) => CHARS[i] ?? "").join(""),
  eosId: EOS,
};

export function toyModel(seed = 0): Transformer {
  const config = parseModelConfig({
    vocab_size: CHARS.length + 1,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    max_position_embeddings: 16,
    initializer_range: 0.2,
  });
  return Transformer.init(config, seed);
}

export function toyConfig(out: string, overrides: Record<string, unknown> = {}): TrainConfig {
  return TrainConfigSchema.parse({
    out,
    steps: 12,
    reward: "correctness",
    rollout: { prompts_per_step: 2, group_size: 8, max_new_tokens: 3, batch_size: 16 },
    optim: { lr: 0.05, warmup_ratio: 0, schedule: "constant" },
    checkpoint_every: 2,
    eval: { every: 0 },
    ...overrides,
  });
}

export function toyDeps(): TrainerDeps {
  return {
    codec: toyCodec,
    prompts: [
      { id: "p0", text: "a", answer: "c" },
      { id: "p1", text: "b", answer: "c" },
    ],
    grade: (text, gold) => ({ answer: text.slice(0, 1) || null, correct: text.startsWith(gold) }),
    transitionalRate: () => 0,
    log: () => {},
  };
}
