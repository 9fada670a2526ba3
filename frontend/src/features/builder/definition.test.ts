import { describe, expect, it } from "vitest";
import * as d from "./definition";

function survey(): d.Definition {
  let def: d.Definition = { pages: [] };
  def = d.addPage(d.addPage(d.addPage(def)));
  def = d.addQuestion(def, "p1", "single_choice");
  def = d.addQuestion(def, "p1", "nps");
  def = d.addQuestion(def, "p3", "long_text");
  return def;
}

describe("definition edits", () => {
  it("gives unique ids and starter choices", () => {
    const def = survey();
    expect(def.pages.map((p) => p.id)).toEqual(["p1", "p2", "p3"]);
    expect(def.pages[0]!.questions!.map((q) => q.id)).toEqual(["q1", "q2"]);
    expect(def.pages[0]!.questions![0]!.choices).toEqual([{ id: "c1", text: "" }]);
    const more = d.addChoice(def, "q1");
    expect(d.findQuestion(more, "q1")!.choices!.map((c) => c.id)).toEqual(["c1", "c2"]);
  });

  it("reorders and keeps every element", () => {
    const def = d.moveQuestion(survey(), "p1", 0, 1);
    expect(def.pages[0]!.questions!.map((q) => q.id)).toEqual(["q2", "q1"]);
    expect(d.movePage(def, 2, 1).pages.map((p) => p.id)).toEqual(["p1", "p2", "p3"]); // past the end: unchanged
    expect(d.movePage(def, 2, -1).pages.map((p) => p.id)).toEqual(["p1", "p3", "p2"]);
  });

  it("builds conditions that fit the question type", () => {
    const def = survey();
    const choice = d.findQuestion(def, "q1")!;
    expect(d.makeCondition(choice)).toEqual({ q: "q1", op: "equals", value: "c1" });
    expect(d.makeCondition(d.findQuestion(def, "q2")!, "gte")).toEqual({ q: "q2", op: "gte", value: 0 });
    expect(d.makeCondition(choice, "is_answered")).toEqual({ q: "q1", op: "is_answered" });
    expect(d.operatorsFor("multiple_choice")).toContain("contains_any");
    expect(d.operatorsFor("statement")).toEqual([]);
  });

  it("adds a skip rule and display logic, and deleting a question removes what named it", () => {
    let def = survey();
    def = d.addSkipRule(def, "p1", d.findQuestion(def, "q1")!, "p3");
    def = d.setVisibleIf(def, "q3", { q: "q2", op: "gte", value: 9 });
    expect(def.pages[0]!.rules).toEqual([
      { id: "r1", when: { q: "q1", op: "equals", value: "c1" }, then: [{ type: "skip_to", page: "p3" }] },
    ]);
    expect(d.findQuestion(def, "q3")!.visible_if).toEqual({ q: "q2", op: "gte", value: 9 });
    const without = d.deleteQuestion(d.deleteQuestion(def, "q1"), "q2");
    expect(without.pages[0]!.rules).toEqual([]);
    expect(d.findQuestion(without, "q3")!.visible_if).toBeUndefined();
  });

  it("deleting a page drops skip rules that jumped to it", () => {
    let def = survey();
    def = d.addSkipRule(def, "p1", d.findQuestion(def, "q1")!, "p3");
    expect(d.deletePage(def, "p3").pages[0]!.rules).toEqual([]);
  });

  it("changing a type to one without choices drops them", () => {
    const def = d.updateQuestion(survey(), "q1", { type: "short_text" });
    expect(d.findQuestion(def, "q1")!.choices).toBeUndefined();
  });

  it("offers only earlier questions to a condition", () => {
    const def = survey();
    expect(d.questionsBefore(def, "q3", "p3").map((q) => q.id)).toEqual(["q1", "q2"]);
    expect(d.questionsBefore(def, null, "p1").map((q) => q.id)).toEqual(["q1", "q2"]);
  });
});
