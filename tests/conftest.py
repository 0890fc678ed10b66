"""Stories written for the tests: real-looking news text, no shared data needed."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dedupe import Story

ROOT = Path(__file__).resolve().parent.parent


def printed_with_kernels(program: str, kernels: str) -> Any:
    """The JSON a Python ``program`` prints, run in a fresh process from the repository root
    whose compiled loops run as ``kernels`` says (``DEDUPE_KERNELS``: compiled or interpreted)."""
    environment = {**os.environ, "DEDUPE_KERNELS": kernels}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, env=environment
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


SEED = ROOT / "seeds" / "feed-page.txt"

HARBOUR = Story(
    id="harbour",
    title="Port of Valdora to double container capacity by 2028",
    body=(
        "The Port of Valdora will double its container capacity by 2028 under a 1.2 billion euro "
        "expansion plan approved by the regional council on Tuesday, harbour director Mirela Kostic "
        "said.\n"
        "The plan adds two deep-water berths and 14 electric cranes, and dredges the main channel "
        "to 17 metres so that the largest container ships can dock without waiting for the tide.\n"
        "Kostic said the port handled 2.4 million containers last year, up 9 percent, and was "
        "turning away ships at peak times. Work on the first berth starts in March.\n"
        "The council approved the plan by 31 votes to 12. Opposition members said the cost had "
        "risen by a third since the first estimate and asked for an independent audit.\n"
        "Environmental groups warned that dredging would damage seagrass beds in the bay. The port "
        "said it would replant 40 hectares of seagrass and fund a monitoring programme with the "
        "University of Valdora for ten years.\n"
        "Shipping lines welcomed the decision. Nordline, which runs a weekly service to Asia, said "
        "it would move two more routes to Valdora once the new berths open."
    ),
    published="2025-03-04T09:00:00Z",
)

HARBOUR_TEASER = Story(
    id="harbour-teaser",
    title="Valdora port plans to double container capacity",
    body=(
        "The regional council on Tuesday approved a 1.2 billion euro plan under which the Port of "
        "Valdora will double its container capacity by 2028, according to harbour director Mirela "
        "Kostic. The plan adds two deep-water berths and 14 electric cranes and dredges the main […]"
    ),
)

RAIL = Story(
    id="rail",
    title="Night trains return between Valdora and the capital",
    body=(
        "Night trains will run again between Valdora and the capital from December, the national "
        "railway said on Monday, ending a ten-year gap in overnight service.\n"
        "The service will leave Valdora at 22:40 four times a week and arrive at 07:15. Sleeper "
        "cabins will cost from 89 euros, seats from 35 euros.\n"
        "Railway chief Anton Berisha said demand for overnight travel had grown since flights on "
        "the route were cut, and that 60 refurbished carriages had been bought from a Swiss "
        "operator.\n"
        "Passenger groups welcomed the return but said the timetable left out the northern towns, "
        "where buses remain the only public transport at night."
    ),
    published="2025-03-03T09:00:00Z",
)


def edited(story: Story, new_id: str, replacements: dict[str, str], **fields) -> Story:
    body = story.body
    for old, new in replacements.items():
        assert old in body, old
        body = body.replace(old, new)
    return Story(id=new_id, title=fields.pop("title", story.title), body=body, **fields)


@pytest.fixture
def seed_path() -> Path:
    return SEED


SYLLABLES = ["ka", "lo", "mi", "ren", "tso", "va", "dri", "pel", "su", "nor", "qua", "bex"]
# A vocabulary of 1,700 words: unrelated generated stories share few shingles, as real ones do.
WORDS = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})
NAMES = ["Mirela Kostic", "Anton Berisha", "Valdora", "Nordline", "Teodor Ilic", "Sava Marin"]


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 16))
    words.insert(rng.randint(1, len(words)), rng.choice(NAMES))
    words.insert(rng.randint(1, len(words)), str(rng.randint(10, 9999)))
    return " ".join(words).capitalize() + "."


def articles(count: int, seed: int) -> list[Story]:
    rng = random.Random(seed)
    return [
        Story(
            id=f"a{n}",
            title=" ".join(rng.choices(WORDS, k=6)).capitalize(),
            body=" ".join(sentence(rng) for _ in range(rng.randint(6, 14))),
            published=f"2025-03-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        )
        for n in range(count)
    ]
