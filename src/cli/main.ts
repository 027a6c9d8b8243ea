// The `rlif` command. Each subcommand lives in its own module and registers itself here.

import { Command } from "commander";
import { StoppedBySignal } from "../train/stop-signals.ts";
import { type BackendChoice, initBackend } from "./backend.ts";
import { registerEval } from "./eval.ts";
import { registerGrade } from "./grade.ts";
import { registerModelCommands } from "./model-commands.ts";
import { resumeCommand } from "./options.ts";
import { registerOrganism } from "./organism.ts";
import { registerReproduce } from "./reproduce.ts";
import { registerTrain } from "./train.ts";

const program = new Command();
program
  .name("rlif")
  .description(
    "Reinforcement learning from internal feedback (self-certainty, token and trajectory entropy) and RLVR\n" +
      "for language models, with the model organism, evaluation on math benchmarks and the paper's analyses.",
  )
  .option(
    "--backend [name]",
    "compute backend: auto (a hardware GPU through WebGPU if present, else wasm) | webgpu | wasm | js (rlif info --backend lists its kernels)",
    "auto",
  )
  .option("--threads <n>", "worker threads for the wasm backend (default: all cores, at most 2)")
  .hook("preAction", async (cmd, action) => {
    if (action.name() === "grade") return; // pure text: no compute backend needed
    const o = cmd.opts();
    const choice = o.backend === true ? "auto" : (o.backend as BackendChoice); // a bare --backend: auto
    await initBackend(choice, o.threads ? Number(o.threads) : undefined);
  })
  .showHelpAfterError();

registerTrain(program);
registerEval(program);
registerReproduce(program);
registerOrganism(program);
registerGrade(program);
registerModelCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`rlif: ${(e as Error).message}`);
  // RLIF_DEBUG=1 shows where an unexpected error (e.g. a WebAssembly trap) came from.
  if (process.env.RLIF_DEBUG) console.error((e as Error).stack);
  process.exitCode = 1;
  if (e instanceof StoppedBySignal) {
    const args = process.argv.slice(2);
    const command = args.find((a) => program.commands.some((c) => c.name() === a));
    console.error(`rlif: to continue: ${resumeCommand(args, command)}`);
    process.exitCode = e.exitCode;
  }
}
