// The shared test vectors (tenant_apps/surveys/logic/vectors.json) run against logic.js:
//   node --test tenant_apps/surveys/static/surveys/logic.test.mjs
// tests/tenant_apps/surveys/logic/test_vectors.py runs the same file against the Python evaluator.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { evaluate, shuffle } from "./logic.js";

const VECTORS = new URL("../../logic/vectors.json", import.meta.url);
const { cases } = JSON.parse(readFileSync(VECTORS, "utf8"));

test("there are enough vectors", () => {
  assert.ok(cases.length >= 150, `only ${cases.length} cases in ${VECTORS.pathname}`);
});

// Cases with "rejected" are outside the language: the compiler refuses them (test_vectors.py checks it), so
// the evaluators never see them.
for (const testCase of cases.filter((c) => !("rejected" in c))) {
  test(testCase.name, () => {
    if ("shuffle" in testCase) {
      assert.deepStrictEqual(shuffle(testCase.shuffle.ids, testCase.shuffle.seed), testCase.expected);
      return;
    }
    const result = evaluate(testCase.definition, testCase.answers ?? {});
    const restricted = Object.fromEntries(Object.keys(testCase.expected).map((key) => [key, result[key]]));
    assert.deepStrictEqual(restricted, testCase.expected);
  });
}
