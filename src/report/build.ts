// The reproduction report: the study's summary (analysis/summary.ts) and runs rendered as a
// self-contained HTML page (inline CSS and SVG; no scripts, no external resources) and the
// findings as Markdown.

import {
  type ConditionSummary,
  conditionName,
  isPaperCondition,
  type LoadedRun,
} from "../analysis/conditions.ts";
import { type Curve, evalCurve, type Spread, stepCurve } from "../analysis/curves.ts";
import { type Finding, fmtSpread } from "../analysis/findings.ts";
import { signalOf } from "../analysis/mechanism.ts";
import { conditionKey, evaluatedSamples, type Summary, type SummaryInput } from "../analysis/summary.ts";
import type { TheoryResult } from "../analysis/theory.ts";
import { fmtEffect } from "../analysis/verdicts.ts";
import { curveChart, renderSvg, type Series, type Spec, xyChart } from "./charts.ts";

export interface ReportInput extends SummaryInput {
  title?: string;
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function table(head: string[], body: (string | number)[][], cls = ""): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const tr = body.map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join("")}</tr>`).join("\n");
  return `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

function seriesBy(runs: LoadedRun[], curve: (r: LoadedRun) => Curve): Series[] {
  const m = new Map<string, Curve[]>();
  for (const r of runs) {
    const label =
      r.group === "mix" ? `α=${r.alpha}` : r.group === "guard" ? `${r.reward} + guard` : conditionName(r);
    const l = m.get(label);
    if (l) l.push(curve(r));
    else m.set(label, [curve(r)]);
  }
  return [...m.entries()].map(([label, curves]) => ({ label, curves }));
}

const DYNAMICS: [string, string][] = [
  ["mean_token_entropy", "mean token entropy (nats)"],
  ["transitional_rate", "transitional words / 100 words"],
  ["response_length", "response length (tokens)"],
  // Responses cut at max_new_tokens have no final answer: a fall in accuracy that comes with a
  // rise here is (partly) a length effect.
  ["truncated_frac", "share of responses cut at the length limit"],
  // The policy-gradient entropy driver: cov(log π of the sampled token, its advantage); > 0 lowers
  // entropy (issue 10, item 7).
  ["entropy_cov", "cov(log π, advantage)"],
];

/** Chart specs of the report, by section (exported for tests). */
export function reportCharts(
  input: ReportInput,
  summary: Summary,
): { section: string; title: string; spec: Spec }[] {
  const out: { section: string; title: string; spec: Spec }[] = [];
  for (const group of ["base", "instruct"] as const) {
    const rs = input.runs.filter((r) => r.group === group && isPaperCondition(r));
    if (!rs.length) continue;
    out.push({
      section: group,
      title: `${group}: held-out accuracy`,
      spec: curveChart(
        seriesBy(rs, (r) => evalCurve(r.metrics)),
        {
          title: `${group} model: held-out greedy accuracy`,
          y: "accuracy",
          width: 420,
          height: 240,
        },
      ),
    });
    if (evaluatedSamples(rs))
      out.push({
        section: group,
        title: `${group}: held-out sampled accuracy`,
        spec: curveChart(
          seriesBy(rs, (r) => evalCurve(r.metrics, "mean_at_k")),
          {
            title: `${group} model: held-out sampled accuracy (mean@k, T = 1)`,
            y: "accuracy",
            width: 420,
            height: 240,
          },
        ),
      });
    for (const [key, label] of DYNAMICS)
      out.push({
        section: group,
        title: `${group}: ${key}`,
        spec: curveChart(
          seriesBy(rs, (r) => stepCurve(r.metrics, key)),
          { title: label, y: label, width: 250, height: 170 },
        ),
      });
    const aurocs = seriesBy(rs, (r) => stepCurve(r.metrics, `auroc/${signalOf(r.reward)}`));
    if (aurocs.some((a) => a.curves.some((c) => c.length)))
      out.push({
        section: group,
        title: `${group}: within-group AUROC`,
        spec: curveChart(aurocs, {
          title: "within-group AUROC of the reward vs correctness (RLVR: self-certainty's)",
          y: "AUROC",
          width: 250,
          height: 170,
        }),
      });
  }
  const byAlpha = (cs: ConditionSummary[]) =>
    cs.filter((c) => c.group === "mix").sort((a, b) => (a.alpha ?? 0) - (b.alpha ?? 0));
  const mix = byAlpha(summary.conditions);
  const mixSampled = byAlpha(summary.sampled?.conditions ?? []);
  if (mix.length) {
    const pt = (c: ConditionSummary, s: Spread | null) =>
      s ? [{ x: c.alpha as number, mean: s.mean, min: s.min, max: s.max }] : [];
    // Each panel: its title, the conditions it plots (greedy or sampled accuracy) and the value.
    const panels: [string, ConditionSummary[], (c: ConditionSummary) => Spread | null][] = [
      ["initial entropy", mix, (c) => c.initialEntropy],
      ["initial accuracy", mix, (c) => c.start],
      ["peak gain", mix, (c) => c.peak],
      ["final gain", mix, (c) => c.final],
    ];
    if (mixSampled.length)
      panels.push(
        ["initial sampled accuracy", mixSampled, (c) => c.start],
        ["peak gain, sampled", mixSampled, (c) => c.peak],
        ["final gain, sampled", mixSampled, (c) => c.final],
      );
    for (const [t, conds, f] of panels)
      out.push({
        section: "mix",
        title: `mix: ${t}`,
        spec: xyChart(
          conds.flatMap((c) => pt(c, f(c))),
          { title: `${t} vs α`, x: "α (instruct weight)", y: t },
        ),
      });
  }
  // Beyond the paper: the methods' runs beside the paper's self-certainty on the base model.
  const methodRuns = input.runs.filter(
    (r) => r.group === "base" && (!isPaperCondition(r) || r.reward === "self-certainty"),
  );
  const sampled = evaluatedSamples(methodRuns);
  if (methodRuns.some((r) => !isPaperCondition(r)))
    for (const [title, curve] of [
      [
        sampled ? "held-out sampled accuracy (mean@k, T = 1)" : "held-out greedy accuracy",
        (r: LoadedRun) => evalCurve(r.metrics, sampled ? "mean_at_k" : "greedy_accuracy"),
      ],
      ["mean token entropy (nats)", (r: LoadedRun) => stepCurve(r.metrics, "mean_token_entropy")],
    ] as const)
      out.push({
        section: "methods",
        title: `methods: ${title}`,
        spec: curveChart(seriesBy(methodRuns, curve), { title, y: title, width: 420, height: 240 }),
      });
  for (const g of input.runs.filter((r) => r.group === "guard")) {
    const plain = input.runs.filter(
      (r) => r.group === "base" && isPaperCondition(r) && r.reward === g.reward && r.seed === g.seed,
    );
    out.push({
      section: "guard",
      title: `guard: ${g.reward}`,
      spec: curveChart(
        seriesBy([...plain, g], (r) => evalCurve(r.metrics)),
        {
          title: `${g.reward}: held-out accuracy with and without the guard`,
          y: "accuracy",
          width: 330,
        },
      ),
    });
  }
  return out;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}.agrees{background:#e3f5e1}.disagrees{background:#fbe3e1}.inconclusive{background:#f6f1dc}.testable{background:#ececec}
.charts{display:flex;flex-wrap:wrap;gap:8px}.muted{color:#666;font-size:90%}code{background:#f3f3f3;padding:0 .2em}`;

const f = (x: number | null | undefined, d = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d);
const e = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : "n/a");

function theorySection(theory: Record<string, TheoryResult>): string {
  const entries = Object.entries(theory);
  if (!entries.length) return "<p>No theory checks were run.</p>";
  const rows = entries.map(([m, t]) => [
    m,
    `${t.responses} / ${t.tokens}`,
    e(t.entropyIdentityMaxErr),
    `${e(t.minKlPU)} / ${e(t.minKlUP)}`,
    e(t.selfCertaintyMaxErr),
    `${e(t.samplerEntropyMaxErr)} / ${e(t.samplerLogpMaxErr)}`,
    `${f(t.chain.meanNegLogp, 3)} vs ${f(t.chain.meanSumEntropy, 3)}: diff ${f(t.chain.diff, 3)} ± ${f(t.chain.se, 3)} (z ${f(t.chain.z, 2)})`,
  ]);
  const corr = entries.map(([m, t]) =>
    [m, ...Object.entries(t.correlations).map(([k, v]) => `${k}: ${f(v, 3)}`)].join(" · "),
  );
  return (
    table(
      [
        "model",
        "responses / tokens",
        "max |−H − (KL(p‖U) − log V)|",
        "min KL(p‖U) / min KL(U‖p)",
        "max |sc (sampler) − KL(U‖p)|",
        "max |H|, |log p| sampler vs float64",
        "chain rule: mean −Σlog p vs mean ΣH",
      ],
      rows,
    ) +
    `<p class="muted">Distributions recomputed from a full forward pass in float64. The chain rule holds in expectation: |z| < 3 is consistent with it.</p>` +
    `<p>Per-response correlations on the same batch (Pearson; point-biserial with correctness):</p><ul>${corr.map((c) => `<li>${esc(c)}</li>`).join("")}</ul>`
  );
}

/** The findings as a Markdown table (for a README or a terminal). */
export function findingsMarkdown(findings: Finding[]): string {
  const cell = (x: string) => x.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [
    "| finding | organism | verdict |",
    "| --- | --- | --- |",
    ...findings.map((x) => `| ${x.id}: ${cell(x.claim)} | ${cell(x.observed)} | ${x.verdict} |`),
  ].join("\n");
}

/** The HTML page, the findings as Markdown and the headline chart (the base model's accuracy). */
export async function renderReport(
  input: ReportInput,
  summary: Summary,
): Promise<{ html: string; markdown: string; headlineSvg: string | null }> {
  const charts = reportCharts(input, summary);
  const svgs = await Promise.all(charts.map((c) => renderSvg(c.spec)));
  const chartsOf = (section: string) =>
    `<div class="charts">${charts
      .map((c, i) => (c.section === section ? `<figure title="${esc(c.title)}">${svgs[i]}</figure>` : ""))
      .join("")}</div>`;
  const findingsTable = (
    fs: Finding[],
    claim = "paper",
  ) => `<table class="findings"><thead><tr><th>id</th><th>${claim}</th><th>organism</th><th>verdict</th><th>rule</th></tr></thead><tbody>
${fs
  .map(
    (x) =>
      `<tr class="${x.verdict}"><td>${x.id}</td><td>${esc(x.claim)}</td><td>${esc(x.observed)}</td><td><b>${x.verdict}</b></td><td class="muted">${esc(x.rule)}</td></tr>`,
  )
  .join("\n")}
</tbody></table>`;
  const v = summary.verdicts;
  const verdictsHtml = v
    ? `<p class="muted">Each verdict is a paired test on per-problem test-split records (same problems at every step, seeds paired across conditions): a bootstrap over seeds × problems, Holm's correction across rewards, equivalence tests at δ = ${(100 * v.design.delta).toFixed(1)} points for "no effect" claims, the early step fixed in advance (step ${v.design.earlyStep}), and every choice (peak step, rollback target) made on the validation split. A finding whose premise the data do not show is "not testable".</p>
<h3>Sampled accuracy (mean@k at the training temperature): primary</h3>
${findingsTable(v.sampled)}
<h3>Greedy accuracy: second metric</h3>
${findingsTable(v.greedy)}
<details><summary>The earlier descriptive rules (unpaired margins on curves; not used for the verdicts above)</summary>`
    : "";
  const findings =
    verdictsHtml +
    findingsTable(summary.findings) +
    (summary.sampled
      ? `<h3>The same findings on sampled accuracy (mean@k, temperature 1)</h3>
<p class="muted">Greedy decoding shows the model's most likely answer; the RL objective acts on samples at temperature 1, where sharpening the distribution shows first. F5 does not depend on the accuracy metric.</p>
${findingsTable(summary.sampled.findings)}`
      : "") +
    (v ? "</details>" : "");
  const condTable = (cs: ConditionSummary[]) =>
    table(
      [
        "condition",
        "seeds",
        "steps",
        "start acc",
        "early gain",
        "peak gain",
        "final gain",
        "margin",
        "entropy first → last",
        "transitional first → last",
        "length first → last",
        "collapse step: entropy / transitional / accuracy (per seed)",
      ],
      cs.map((c) => [
        conditionKey(c),
        c.seeds,
        c.steps,
        fmtSpread(c.start, 3, false),
        fmtSpread(c.early),
        fmtSpread(c.peak),
        fmtSpread(c.final),
        c.margin.toFixed(3),
        `${fmtSpread(c.entropy.first, 3, false)} → ${fmtSpread(c.entropy.last, 3, false)}`,
        `${fmtSpread(c.transitional.first, 2, false)} → ${fmtSpread(c.transitional.last, 2, false)}`,
        `${fmtSpread(c.length.first, 1, false)} → ${fmtSpread(c.length.last, 1, false)}`,
        c.collapse
          .map((k) => [k.entropyStep, k.transitionalStep, k.accuracyStep].map((x) => x ?? "–").join(" / "))
          .join("; "),
      ]),
    );
  const conditionsHtml =
    condTable(summary.conditions) +
    (summary.sampled
      ? `<h3>Sampled accuracy (mean@k, temperature 1)</h3>${condTable(summary.sampled.conditions)}`
      : "");
  const corrNames = [...new Set(Object.values(summary.correlations).flatMap((c) => Object.keys(c)))].sort();
  const corrTable = table(
    ["condition", ...corrNames],
    Object.entries(summary.correlations).map(([k, c]) => [
      k,
      ...corrNames.map((n) => fmtSpread(c[n] ?? null, 2)),
    ]),
  );
  const mechanismHtml = summary.mechanism.length
    ? `<p class="muted">Between validation evaluations, the mean over the window's training steps of each run's within-group AUROC of its reward against correctness (0.5: the reward no longer tells a prompt's right samples from its wrong ones; RLVR rows show self-certainty's) and of cov(log π, advantage) (positive: the update lowers entropy); then mean ± std over seeds, beside the sampled validation accuracy at the window's end. Does accuracy stop rising when the AUROC reaches 0.5?</p>${table(
        ["condition", "signal", ...summary.mechanism[0].windows.map((w) => `steps ${w.from}–${w.to}`)],
        summary.mechanism.flatMap((m) => [
          [m.condition, `AUROC (${m.signal})`, ...m.windows.map((w) => fmtSpread(w.auroc, 3, false))],
          [m.condition, "cov(log π, A)", ...m.windows.map((w) => fmtSpread(w.cov, 4, false))],
          [m.condition, "validation mean@k at the end", ...m.windows.map((w) => fmtSpread(w.val, 3, false))],
        ]),
      )}`
    : "<p>No run logged the mechanism signals.</p>";
  const mq = summary.methods;
  const methodsHtml = mq
    ? `<p class="muted">Conditions on the base model that the paper does not have (docs/reproduce.md, “Beyond the paper”): a random reward (Bernoulli(0.5), no signal) trained exactly like the internal rewards; TTRL's majority vote; and, with 4 updates per rollout batch (with one, the PPO ratio is 1 and neither the clip nor KL-Cov acts), the random reward with the clip on and off, and self-certainty without and with KL-Cov, whose k is chosen on the validation split${
        mq.klCovChoice ? ` (${mq.klCovChoice.chosen})` : ""
      }. Q1 and Q2 are decided by the same paired tests as F1–F6; “agrees” answers yes.</p>
<h3>Sampled accuracy: primary</h3>
${findingsTable(mq.sampled, "question")}
<h3>Greedy accuracy: second metric</h3>
${findingsTable(mq.greedy, "question")}
${chartsOf("methods")}`
    : "<p>No per-problem records: the questions beyond the paper need them.</p>";
  const keepHtml = summary.guardKeeps.length
    ? `<p class="muted">What each guard variant keeps: the test-split gain (vs step 0, sampled accuracy) of the checkpoint it rolls back to: the best by validation accuracy, or label-free (the newest checkpoint before the guard's signals fell). Paired bootstrap over problems (one seed).</p>${table(
        [
          "reward",
          "guard",
          "kept: validation target",
          "kept: label-free target",
          "unguarded, early step",
          "unguarded, final",
        ],
        summary.guardKeeps.map((g) => [
          g.reward,
          g.firedAt === null
            ? "did not fire"
            : `fired at step ${g.firedAt}; targets: validation ${g.validationTarget ?? "–"}, label-free ${g.signalsTarget ?? "–"}`,
          fmtEffect(g.keptByValidation),
          fmtEffect(g.keptBySignals),
          fmtEffect(g.unguardedEarly),
          fmtEffect(g.unguardedFinal),
        ]),
      )}`
    : "";
  const guardHtml = summary.guards.length
    ? `<p class="muted">Each guarded run (mode rollback) is the unguarded base run of its reward and seed with the guard on; when it fires it rolls back to the checkpoint with the best held-out accuracy (which needs labels: the guard's trigger does not, its choice of checkpoint does).</p>${table(
        [
          "reward",
          "guard",
          "gain kept",
          "its early gain",
          "unguarded final gain",
          "keeps the early gain (kept ≥ early − margin)",
        ],
        summary.guards.map((g) => [
          g.reward,
          g.fired
            ? `fired at step ${g.firedAt}${g.rolledBackTo !== null ? `, rolled back to step ${g.rolledBackTo}` : ""}`
            : "did not fire",
          f(g.keptGain, 3),
          f(g.earlyGain, 3),
          f(g.unguardedFinal, 3),
          g.keepsEarlyGain === null
            ? "n/a"
            : `${g.keepsEarlyGain ? "yes" : "no"} (margin ${g.margin.toFixed(3)})`,
        ]),
      )}${chartsOf("guard")}`
    : "<p>No guard run.</p>";
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title ?? "rlif: reproduction report")}</title><style>${CSS}</style></head>
<body>
<h1>${esc(input.title ?? "rlif: reproduction report")}</h1>
<p class="muted">Profile <b>${esc(input.profile)}</b>, ${input.runs.length} runs. Reproducing “No Free Lunch: Rethinking Internal Feedback for LLM Reasoning” (arXiv 2506.17219) on the model organism. Spread: ± sample std over seeds (n = seeds); bands: min–max over seeds.</p>
<h2>Findings</h2>
${findings}
<h2>Beyond the paper: controls and remedies</h2>
${methodsHtml}
<h2>Conditions</h2>
${conditionsHtml}
<h2>Base model</h2>
${chartsOf("base")}
<h2>Instruct model</h2>
${chartsOf("instruct")}
<h2>Weight mixing</h2>
${chartsOf("mix")}
<h2>Guard</h2>
${keepHtml}
${guardHtml}
<h2>Theory checks</h2>
${theorySection(summary.theory)}
<h2>Mechanism signals</h2>
${mechanismHtml}
<h2>Reward correlations during training</h2>
<p class="muted">Mean ± std over all steps and seeds of the per-step correlations logged by the trainer (<code>corr/*</code>).</p>
${corrTable}
${summary.notes.length ? `<h2>Notes</h2><ul>${summary.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}
</body></html>
`;
  const head = charts.findIndex((c) => c.section === "base");
  return {
    html,
    markdown: v
      ? `On sampled accuracy (primary; paired tests, docs/reproduce.md):\n\n${findingsMarkdown(v.sampled)}\n\nOn greedy accuracy:\n\n${findingsMarkdown(v.greedy)}\n` +
        (mq
          ? `\nBeyond the paper, on sampled accuracy:\n\n${findingsMarkdown(mq.sampled)}\n\nOn greedy accuracy:\n\n${findingsMarkdown(mq.greedy)}\n`
          : "")
      : `${findingsMarkdown(summary.findings)}\n` +
        (summary.sampled
          ? `\nOn sampled accuracy (mean@k, temperature 1):\n\n${findingsMarkdown(summary.sampled.findings)}\n`
          : ""),
    headlineSvg: head >= 0 ? svgs[head] : null,
  };
}
