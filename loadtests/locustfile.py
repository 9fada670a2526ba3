"""Respondents answering a survey: load it, save a draft on every page, submit.

Run through ``make loadtest`` (sets up a survey and a server, then runs locust headless), or by hand:

    SURVEY_LINK=<link> TENANT_HOST=<slug>.localhost .venv/bin/locust -f loadtests/locustfile.py --headless \\
        -u 50 -r 10 -t 30s --host http://127.0.0.1:8000
"""

from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, between, task

LINK = os.environ.get("SURVEY_LINK", "")
HOST = os.environ.get("TENANT_HOST", "demo.localhost")


class Respondent(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.headers = {"Host": HOST, "X-Respondent-Key": uuid.uuid4().hex}

    @task
    def answer_the_survey(self) -> None:
        with self.client.get(
            f"/api/v1/s/{LINK}/", headers=self.headers, name="1 load survey", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"load: {response.status_code}")
                return
            definition = response.json()["definition"]
        answers: dict[str, object] = {}
        draft: dict[str, str] = {}
        for page in definition["pages"]:
            for question in page["questions"]:
                answers[question["id"]] = self.answer(question)
            body = {"answers": answers, "page": page["id"], **draft}
            with self.client.put(
                f"/api/v1/s/{LINK}/draft/",
                json=body,
                headers=self.headers,
                name="2 save draft (per page)",
                catch_response=True,
            ) as saved:
                if saved.status_code != 200:
                    saved.failure(f"draft: {saved.status_code}")
                    return
                draft = {"submission_id": saved.json()["submission_id"], "token": saved.json()["token"]}
        with self.client.post(
            f"/api/v1/s/{LINK}/submit/",
            json={"answers": answers, **draft},
            headers=self.headers,
            name="3 submit",
            catch_response=True,
        ) as submitted:
            if submitted.status_code not in (200, 201):
                submitted.failure(f"submit: {submitted.status_code} {submitted.text[:200]}")

    @staticmethod
    def answer(question: dict) -> object:
        kind = question["type"]
        if kind == "number":
            return random.randint(0, 100)
        if kind in ("single_choice", "dropdown"):
            return random.choice(question["choices"])["id"]
        if kind == "multiple_choice":
            return [c["id"] for c in random.sample(question["choices"], 2)]
        if kind == "yes_no":
            return random.random() < 0.5
        return f"answer {random.randint(1, 1000)}"
