// Runs the toy RL training in a child process (the kill-and-resume test kills it mid-run).
import { trainRl } from "../../src/rl/trainer.ts";
import { toyConfig, toyDeps, toyModel } from "./toy-rl.ts";

const out = process.argv[2];
await trainRl(toyModel(1), toyConfig(out, { steps: 40 }), toyDeps());
