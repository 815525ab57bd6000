#!/usr/bin/env python3
"""Writes the "it learns" data set: short TinyStories-style stories whose hero is always
named Trellis and which always end with Trellis planting a seed. Deterministic (fixed seed).

    /usr/bin/python3 tests/data/train/make_trellis_stories.py

Outputs trellis_stories_train.jsonl (48 stories) and trellis_stories_heldout.jsonl (12 stories,
different combinations), one {"text": ...} per line. Written for Trellis's tests; public domain (CC0).
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ADJ = ["little", "small", "happy", "kind", "brave", "curious", "shy", "funny"]
WHO = ["girl", "boy", "dog", "cat", "bird", "bunny", "bear", "frog"]
LIKE = ["to play in the park", "to run in the sun", "to look at the sky", "to sing songs", "to help her mom",
        "to draw pictures", "to jump in the grass", "to read books"]
EVENT = ["found a big box", "saw a red ball", "met a new friend", "lost a toy", "heard a loud noise",
         "went to the forest", "saw a pretty flower", "found a shiny rock"]
MIDDLE = ["Trellis was very happy.", "Trellis smiled and said hello.", "Trellis felt sad, but then Trellis was happy.",
          "Trellis and the friend played all day.", "Trellis was surprised and laughed."]
END = "At the end of the day, Trellis planted a seed in the garden."


def story(rng):
    return (f"Once upon a time, there was a {rng.choice(ADJ)} {rng.choice(WHO)} named Trellis. "
            f"Trellis liked {rng.choice(LIKE)}. One day, Trellis {rng.choice(EVENT)}. {rng.choice(MIDDLE)} {END}")


def main():
    rng = random.Random(2024)
    seen, stories = set(), []
    while len(stories) < 60:
        s = story(rng)
        if s not in seen:
            seen.add(s)
            stories.append(s)
    for name, part in (("trellis_stories_train.jsonl", stories[:48]), ("trellis_stories_heldout.jsonl", stories[48:])):
        with open(os.path.join(HERE, name), "w") as f:
            for s in part:
                f.write(json.dumps({"text": s}) + "\n")


if __name__ == "__main__":
    main()
