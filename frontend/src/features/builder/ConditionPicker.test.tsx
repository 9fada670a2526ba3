import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { ConditionPicker } from "./ConditionPicker";
import type { Condition, Question } from "./definition";

const questions: Question[] = [
  { id: "q_path", type: "single_choice", text: "Short or long?", choices: [{ id: "short", text: "Short" }, { id: "long", text: "Long" }] },
  { id: "q_nps", type: "nps", text: "Recommend us?" },
];

function Harness({ onChange }: { onChange: (c: Condition) => void }) {
  const [condition, setCondition] = useState<Condition>({ q: "q_path", op: "equals", value: "short" });
  return (
    <ConditionPicker idPrefix="t" condition={condition} questions={questions}
      onChange={(c) => { setCondition(c); onChange(c); }} />
  );
}

describe("ConditionPicker", () => {
  it("picks question, operator and value without any JSON", async () => {
    const user = userEvent.setup();
    const changes: Condition[] = [];
    render(<Harness onChange={(c) => changes.push(c)} />);
    await user.selectOptions(screen.getByLabelText("Value"), "Long");
    expect(changes.at(-1)).toEqual({ q: "q_path", op: "equals", value: "long" });
    await user.selectOptions(screen.getByLabelText("When question"), "Recommend us?");
    expect(changes.at(-1)).toEqual({ q: "q_nps", op: "equals", value: 0 });
    await user.selectOptions(screen.getByLabelText("Operator"), "is at least");
    const value = screen.getByLabelText("Value");
    await user.clear(value);
    await user.type(value, "9");
    expect(changes.at(-1)).toEqual({ q: "q_nps", op: "gte", value: 9 });
    await user.selectOptions(screen.getByLabelText("Operator"), "is answered");
    expect(screen.queryByLabelText("Value")).toBeNull();
    expect(changes.at(-1)).toEqual({ q: "q_nps", op: "is_answered" });
  });
});
