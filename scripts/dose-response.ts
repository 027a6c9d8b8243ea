// The dose-response table of issue 11 (docs/organism.md): for organisms built along the v2 corpus's
// informativeness knob, the base model's within-group AUROC of self-certainty (from its card) against
// what self-certainty RL did to it (from a `rlif reproduce --only base` study on that organism):
// early gain, final gain and validation-chosen peak − final, each a paired interval over seeds ×
// problems on the test split, with RLVR beside it as the positive control.
//
// Usage: node --import tsx scripts/dose-response.ts --point NAME=STUDY_DIR,CARD_JSON [--point ...]
//        [--out FILE]

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { AurocFigure, CardRow } from "../src/analysis/organism-card.ts";
import {
  type ConditionRecords,
  type Design,
  type Effect,
  effect,
  gainGrid,
} from "../src/analysis/verdicts.ts";
import { readStudyFolder, studyDesign } from "../src/study/report.ts";
import { writeFileAtomic } from "../src/util/fs.ts";

const { values } = parseArgs({
  options: { point: { type: "string", multiple: true, default: [] }, out: { type: "string" } },
});

interface Point {
  name: string;
  auroc: Record<string, AurocFigure | null>;
  rewards: Record<string, { early: Effect | null; final: Effect | null; drop: Effect | null }>;
  n: string;
}

function readPoint(spec: string): Point {
  const m = spec.match(/^([^=]+)=([^,]+),(.+)$/);
  if (!m) throw new Error(`--point: expected NAME=STUDY_DIR,CARD_JSON, got "${spec}"`);
  const [, name, dir, card] = m as unknown as [string, string, string, string];
  const { profile, conds } = readStudyFolder(dir);
  const design: Design = { ...studyDesign(profile), metric: "sampled" };
  const rewards: Point["rewards"] = {};
  for (const reward of ["self-certainty", "token-entropy", "trajectory-entropy", "correctness"]) {
    const c = conds.find((x: ConditionRecords) => x.group === "base" && x.reward === reward && !x.method);
    if (!c) continue;
    rewards[reward] = {
      early: effect(`early gain (step ${design.earlyStep})`, gainGrid(c, design.earlyStep), design, 1),
      final: effect("final gain", gainGrid(c, "final"), design, 2),
      drop: effect("peak − final", gainGrid(c, "peak", "final"), design, 3),
    };
  }
  const rows = (JSON.parse(readFileSync(card, "utf8")) as { rows: CardRow[] }).rows;
  const row = rows.find((r) => r.split === "test-id") ?? rows[0];
  if (!row?.confidence) throw new Error(`${card}: no confidence figures (run scripts/organism-card.ts)`);
  const seeds = profile.seeds.length;
  return {
    name,
    auroc: row.confidence,
    rewards,
    n: `${seeds} seed${seeds > 1 ? "s" : ""} × ${profile.eval.test.limit}`,
  };
}

const points = values.point!.map(readPoint);
const iv = (f: AurocFigure | null | undefined) =>
  f ? `${f.estimate.toFixed(3)} [${f.lo.toFixed(3)}, ${f.hi.toFixed(3)}]` : "–";
/** Each internal reward's own signal on the card: its within-group AUROC on the base model. */
const OWN_SIGNAL: Record<string, string> = {
  "self-certainty": "self_certainty",
  "token-entropy": "neg_token_entropy",
  "trajectory-entropy": "mean_logp",
};
const signed = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)}`;
const pt = (e: Effect | null) =>
  e
    ? `${signed(e.interval.estimate)} [${signed(e.interval.lo)}, ${signed(e.interval.hi)}]${e.interval.p < 0.05 ? " *" : ""}`
    : "n/a";
const lines = [
  "| organism | reward | its AUROC on the base model | early gain (pts) | final gain (pts) | peak − final (pts) | n |",
  "| --- | --- | --- | --- | --- | --- | --- |",
];
for (const p of points)
  for (const [reward, e] of Object.entries(p.rewards)) {
    const own = OWN_SIGNAL[reward];
    lines.push(
      `| ${p.name} | ${reward} | ${own ? iv(p.auroc[own]) : "(verified)"} | ${pt(e.early)} | ${pt(e.final)} | ${pt(e.drop)} | ${p.n} |`,
    );
  }
lines.push("", "(* interval excludes 0 at α = 0.05, unadjusted.)");
console.log(lines.join("\n"));
if (values.out)
  writeFileAtomic(values.out, `${JSON.stringify({ date: new Date().toISOString(), points }, null, 2)}\n`);
