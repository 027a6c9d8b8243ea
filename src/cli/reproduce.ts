// `rlif reproduce`: the paper's study on the organism (src/study/), then the HTML report and the
// JSON summary. This file only turns flags into a profile and options.

import type { Command } from "commander";
import type { RunGroup } from "../analysis/conditions.ts";
import { organismStudy } from "../study/organisms.ts";
import { PROFILES, type Profile, restrictMethods, restrictRewards } from "../study/profiles.ts";
import { reproduce } from "../study/reproduce.ts";
import { positiveIntFlag } from "./options.ts";
import { runTraining } from "./train.ts";

const GROUPS: RunGroup[] = ["base", "instruct", "mix", "guard"];

function parseGroups(s: string): RunGroup[] {
  const gs = s.split(",").map((x) => x.trim());
  for (const g of gs)
    if (!(GROUPS as string[]).includes(g))
      throw new Error(`--only: unknown group "${g}" (valid: ${GROUPS.join(", ")})`);
  return gs as RunGroup[];
}

export function registerReproduce(program: Command): void {
  program
    .command("reproduce")
    .description(
      "run the paper's study on the organism (base: 4 rewards; instruct: self-certainty and correctness; " +
        "weight mixing; guard; the full profile also runs a random-reward control, majority vote and " +
        "self-certainty with KL-Cov, in group base) and write <out>/report.html and <out>/summary.json. Re-running resumes: " +
        "finished runs are skipped, interrupted ones continue from their last checkpoint. Several processes " +
        "may share one --out (each run is locked while trained), e.g. one per core with --threads 1.",
    )
    .option("--quick", "the quick profile (1 seed, short runs; about 7 minutes on 2 cores on v1)")
    .option("--out <dir>", "study folder", "runs/reproduce")
    .option("--organism <name>", "organism (v1, v2): its models and rollout settings", "v1")
    .option("--base <model>", "base model (default: the organism's)")
    .option("--instruct <model>", "instruct model (default: the organism's)")
    .option("--seeds <n>", "number of seeds (overrides the profile)")
    .option("--steps <n>", "RL steps per run (overrides the profile)")
    .option("--lr <x>", "RL learning rate (overrides the profile)")
    .option("--only <groups>", "train only these groups (comma list of base, instruct, mix, guard)")
    .option(
      "--rewards <names>",
      "train only the conditions with these rewards (comma list, e.g. correctness); the folder keeps the others it has",
    )
    .option(
      "--methods <names>",
      "train only these conditions beyond the paper (comma list, e.g. random); the folder keeps the others it has",
    )
    .option("--report-only", "only (re)write the report from the runs already in --out")
    .action(
      async (f: {
        quick?: boolean;
        out: string;
        organism: string;
        base?: string;
        instruct?: string;
        seeds?: string;
        steps?: string;
        lr?: string;
        reportOnly?: boolean;
        only?: string;
        rewards?: string;
        methods?: string;
      }) => {
        const organism = organismStudy(f.organism);
        let profile: Profile = organism.adjust({ ...PROFILES[f.quick ? "quick" : "full"] });
        const list = (s: string) => s.split(",").map((x) => x.trim());
        if (f.rewards && f.methods) throw new Error("--rewards and --methods: give one of them");
        if (f.rewards) profile = restrictRewards(profile, list(f.rewards));
        if (f.methods) profile = restrictMethods(profile, list(f.methods));
        if (f.seeds) profile.seeds = Array.from({ length: positiveIntFlag(f.seeds, "seeds") }, (_, i) => i);
        if (f.steps) profile.steps = positiveIntFlag(f.steps, "steps");
        if (f.lr) {
          profile.lr = Number(f.lr);
          if (!(profile.lr > 0)) throw new Error(`--lr must be a positive number, got "${f.lr}"`);
        }
        const s = await reproduce({
          out: f.out,
          base: f.base ?? organism.base,
          instruct: f.instruct ?? organism.instruct,
          profile,
          reportOnly: f.reportOnly,
          only: f.only ? parseGroups(f.only) : undefined,
          train: runTraining,
        });
        // The paired verdicts on sampled accuracy when the runs have per-problem records.
        for (const x of s.verdicts?.sampled ?? s.findings)
          console.log(`${x.id}: ${x.verdict} — ${x.observed}`);
      },
    );
}
