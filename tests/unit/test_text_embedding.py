"""The offline MiniLM encoder gives sentence vectors that put like with like."""

from __future__ import annotations

import numpy as np

from recommenders.text_embedding import MiniLM


def test_overviews_about_the_same_story_are_closest() -> None:
    texts = ["A space crew fights a deadly alien creature aboard their ship.",
             "Astronauts battle a monster hunting them on a spacecraft.",
             "Two strangers fall in love during a summer in Paris.",
             "A romantic comedy about a couple in Paris."]
    vectors = MiniLM.load().encode(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.5 and sims[2, 3] > 0.5
    assert max(sims[0, 2], sims[0, 3], sims[1, 2], sims[1, 3]) < 0.2


def test_padding_does_not_change_a_texts_vector() -> None:
    model = MiniLM.load()
    alone = model.encode(["A heist crew plans one last job."])
    batched = model.encode(["A heist crew plans one last job.", "A much longer text " * 20])
    assert np.allclose(alone[0], batched[0], atol=1e-4)
