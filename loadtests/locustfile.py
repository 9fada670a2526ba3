"""Respondents answering a survey: load it, save a draft on every page, submit.

Two profiles (user classes):

- ``Respondent``: a fast loop (0.5-2 s between journeys), to find the request ceiling.
- ``HumanRespondent``: a person reading and typing: 5-20 s of think time on every page (before each page's draft
  save and before the submit), then 5-20 s before the next survey. About one request every 12 s per user,
  so the number of *concurrent users* a deployment holds is what it measures (the source design: 10,000+).
  On ``FastHttpUser`` (geventhttpclient): a locust worker process holds thousands of mostly idle users.

Run through ``make loadtest`` (sets up a survey and a server, then runs locust headless, distributed over
``LOCUST_WORKERS`` worker processes), e.g. ``make loadtest LOCUST_PROFILE=HumanRespondent LOCUST_USERS=2000
LOCUST_WORKERS=2 LOCUST_DURATION=3m``; or by hand against any deployment, a master and N workers:

    SURVEY_LINK=<link> TENANT_HOST=<slug>.<domain> locust -f loadtests/locustfile.py HumanRespondent --master \\
        --headless -u 10000 -r 50 -t 15m --expect-workers 8 --host https://<platform>
    SURVEY_LINK=<link> TENANT_HOST=<slug>.<domain> locust -f loadtests/locustfile.py HumanRespondent --worker \\
        --master-host <master>        # on each of the 8 load machines (or processes)
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

import locust.runners
from locust import FastHttpUser, HttpUser, between, task

# Heartbeats a worker may miss before the master drops it (locust's default: 3 s). On a machine whose cores are
# shared with the server under test, a busy worker misses a few; run.py raises it for its local runs.
locust.runners.HEARTBEAT_LIVENESS = int(os.environ.get("LOCUST_HEARTBEAT_LIVENESS", locust.runners.HEARTBEAT_LIVENESS))

LINK = os.environ.get("SURVEY_LINK", "")
HOST = os.environ.get("TENANT_HOST", "demo.localhost")


def answer(question: dict[str, Any]) -> object:
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


class _Journey:
    """One survey answered start to finish; ``think()`` runs before each page's save and before the submit."""

    client: Any
    headers: dict[str, str]

    def think(self) -> None:
        return None

    def journey(self) -> None:
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
            self.think()  # reading and answering the page
            for question in page["questions"]:
                answers[question["id"]] = answer(question)
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
        self.think()  # checking the answers before sending
        with self.client.post(
            f"/api/v1/s/{LINK}/submit/",
            json={"answers": answers, **draft},
            headers=self.headers,
            name="3 submit",
            catch_response=True,
        ) as submitted:
            if submitted.status_code not in (200, 201):
                submitted.failure(f"submit: {submitted.status_code} {submitted.text[:200]}")


class Respondent(_Journey, HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.headers = {"Host": HOST, "X-Respondent-Key": uuid.uuid4().hex}

    @task
    def answer_the_survey(self) -> None:
        self.journey()


class HumanRespondent(_Journey, FastHttpUser):
    # Between surveys, and (through think()) on every page: 5-20 s.
    wait_time = between(5.0, 20.0)
    # A slow answer is a slow answer, not a dropped user: generous timeouts, one connection per user.
    connection_timeout = 30.0
    network_timeout = 60.0

    def on_start(self) -> None:
        self.headers = {"Host": HOST, "X-Respondent-Key": uuid.uuid4().hex}

    def think(self) -> None:
        self.wait()

    @task
    def answer_the_survey(self) -> None:
        self.journey()
