// Times the JavaScript evaluator on a definition + answers read from stdin: prints microseconds per run.
import { readFileSync } from "node:fs";
import { evaluate } from "../tenant_apps/surveys/static/surveys/logic.js";

const { definition, answers, runs } = JSON.parse(readFileSync(0, "utf8"));
const samples = [];
for (let r = 0; r < 5; r++) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) evaluate(definition, answers);
  samples.push(Number(process.hrtime.bigint() - started) / 1000 / runs);
}
samples.sort((a, b) => a - b);
console.log(samples[2].toFixed(2));
