// The `rlif` command. Each subcommand lives in its own module and registers itself here.

import { Command } from "commander";
import { type BackendChoice, initBackend } from "./backend.ts";
import { registerModelCommands } from "./model-commands.ts";

const program = new Command();
program
  .name("rlif")
  .description(
    "Reinforcement learning from internal feedback (self-certainty, token and trajectory entropy) and RLVR\n" +
      "for language models, with the model organism, evaluation on math benchmarks and the paper's analyses.",
  )
  .option("--backend <name>", "compute backend: auto | wasm | js", "auto")
  .option("--threads <n>", "worker threads for the wasm backend (default: all cores, at most 2)")
  .hook("preAction", async (cmd) => {
    const o = cmd.opts();
    await initBackend(o.backend as BackendChoice, o.threads ? Number(o.threads) : undefined);
  })
  .showHelpAfterError();

registerModelCommands(program);

const optional = ["./grade.ts", "./organism.ts", "./train.ts", "./eval.ts", "./reproduce.ts"];
for (const m of optional) {
  try {
    const mod = await import(m);
    for (const [k, f] of Object.entries(mod))
      if (k.startsWith("register") && typeof f === "function") f(program);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw e;
  }
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`rlif: ${(e as Error).message}`);
  process.exitCode = 1;
}
