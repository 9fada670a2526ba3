#!/usr/bin/env node
// Drives logic.js from another process (the Python cross-check tests keep one of these running).
// Reads newline-delimited JSON from stdin and writes exactly one JSON line per input line:
//   {"definition": ..., "answers": ...}           -> the evaluate() result
//   {"shuffle": {"ids": [...], "seed": n}}         -> the shuffle() list
//   {"compare": {"op": ..., "left": ..., "right": ...}} -> true / false
//   {"format_number": x}                          -> the string
// A line that fails (malformed JSON, or a definition the compiler would refuse) gets {"error": "<message>"}.
import { createInterface } from "node:readline";

import { compare, evaluate, formatNumber, shuffle } from "./logic.js";

function handle(line) {
  const request = JSON.parse(line);
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new TypeError("each line must be a JSON object");
  }
  if ("shuffle" in request) return shuffle(request.shuffle.ids, request.shuffle.seed);
  if ("compare" in request) return compare(request.compare.op, request.compare.left, request.compare.right);
  if ("format_number" in request) return formatNumber(request.format_number);
  return evaluate(request.definition, request.answers ?? {});
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let output;
  try {
    output = JSON.stringify(handle(line));
  } catch (error) {
    output = JSON.stringify({ error: `${error.name}: ${error.message}` });
  }
  process.stdout.write(`${output}\n`);
});
