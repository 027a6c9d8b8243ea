// Statistics of the v2 pretraining corpus across the informativeness knob (docs/organism.md):
// share of correct documents, reflecting, losing the thread, hedged, and correct among hedged ones.
// Usage: node --import tsx scripts/corpus-v2-stats.ts
import { DEFAULT_MIXTURE_V2, pretrainDocumentsV2 } from "../src/tasks/corpus-v2.ts";

for (const k of [0, 0.5, 1]) {
  const docs = pretrainDocumentsV2(0, 4000, { ...DEFAULT_MIXTURE_V2, informativeness: k });
  const sol = docs.filter((d) => d.kind === "solution");
  const acc = sol.filter((d) => d.correct).length / sol.length;
  const refl = sol.filter((d) => (d.reflections ?? 0) > 0).length / sol.length;
  const drift = sol.filter((d) => d.drift).length / sol.length;
  const hedge = sol.filter((d) => /I think|maybe|um,|uh,|probably|I guess/.test(d.text)).length / sol.length;
  const len = docs.reduce((a, d) => a + d.text.length, 0) / docs.length;
  const byRel: Record<string, string> = {};
  for (const r of ["careful", "average", "sloppy"]) {
    const s = sol.filter((d) => d.reliability === r);
    byRel[r] = (s.filter((d) => d.correct).length / s.length).toFixed(2);
  }
  const hedgedAcc = sol.filter((d) => /I think|maybe|um,|uh,|probably|I guess/.test(d.text));
  console.log(
    JSON.stringify({
      k,
      acc: acc.toFixed(3),
      refl: refl.toFixed(3),
      drift: drift.toFixed(3),
      hedge: hedge.toFixed(3),
      len: len.toFixed(0),
      byRel,
      accHedged: (hedgedAcc.filter((d) => d.correct).length / hedgedAcc.length).toFixed(3),
    }),
  );
}
