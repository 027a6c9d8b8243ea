// Statistics of the v2 pretraining corpus across the informativeness knob (docs/organism.md): share
// of correct documents, reflecting, losing the thread, written in a sloppy manner (an equation
// spaced against its style's habit, or a hedge), and how often manner-marked documents are correct.
// Usage: node --import tsx scripts/corpus-v2-stats.ts
import {
  DEFAULT_MIXTURE_V2,
  type PretrainDocumentV2,
  pretrainDocumentsV2,
  writesSloppily,
} from "../src/tasks/corpus-v2.ts";

const sloppyManner = (d: PretrainDocumentV2) =>
  writesSloppily(d.text.slice(d.text.indexOf("Solution:")), d.style ?? "other");
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const share = <T>(xs: T[], f: (x: T) => boolean) => xs.filter(f).length / xs.length;

for (const k of [0, 0.5, 1]) {
  const docs = pretrainDocumentsV2(0, 4000, { ...DEFAULT_MIXTURE_V2, informativeness: k });
  const sol = docs.filter((d) => d.kind === "solution");
  const worked = sol.filter((d) => d.style !== "answer-only");
  const marked = worked.filter(sloppyManner);
  const plain = worked.filter((d) => !sloppyManner(d));
  console.log(
    JSON.stringify({
      k,
      correct: pct(share(sol, (d) => !!d.correct)),
      reflecting: pct(share(sol, (d) => (d.reflections ?? 0) > 0)),
      lost_thread: pct(share(sol, (d) => !!d.drift)),
      sloppy_manner: pct(marked.length / worked.length),
      correct_sloppy_manner: pct(share(marked, (d) => !!d.correct)),
      correct_plain: pct(share(plain, (d) => !!d.correct)),
      mean_chars: Math.round(docs.reduce((a, d) => a + d.text.length, 0) / docs.length),
    }),
  );
}
