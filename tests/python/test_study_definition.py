"""The study definition: scene options, validation messages, ordering, conditions and seeds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from interactive_gym.study import (
    SCENE_TYPES,
    Conditions,
    EndScene,
    Experiment,
    FreeText,
    GymScene,
    Likert,
    MultipleChoice,
    Number,
    ParticipantContext,
    RandomizeOrder,
    ResponseError,
    Scene,
    StaticScene,
    StudyError,
    SurveyScene,
    derive_seed,
)
from interactive_gym.study.end_scene import CODE_ALPHABET, generated_code
from interactive_gym.study.seeds import participant_seed, shuffled


def page(scene_id: str) -> StaticScene:
    return StaticScene(scene_id, html=f"<p>{scene_id}</p>")


def ctx(**fields: object) -> ParticipantContext:
    values: dict = {"participant_id": "p1", "experiment_id": "exp", "seed": 5}
    values.update(fields)
    return ParticipantContext(**values)


# options and their messages -----------------------------------------------------------------


def test_unknown_option_names_the_option_and_suggests_the_fix() -> None:
    with pytest.raises(StudyError) as err:
        StaticScene("consent", htm="<p>x</p>")
    message = str(err.value)
    assert "StaticScene('consent')" in message
    assert "unknown option 'htm'" in message
    assert "did you mean 'html'?" in message


def test_unknown_experiment_option() -> None:
    with pytest.raises(StudyError, match="(?s)unknown option 'seeed'.*did you mean 'seed'"):
        Experiment("x", scenes=[EndScene()], seeed=3)


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: StaticScene("a", html=3), "html must be a non-empty string or None, got int 3"),
        (lambda: StaticScene("a", html="x", consent=True), "consent must be a non-empty string"),
        (lambda: Likert("q", "Q", points="7"), "points must be a whole number, got str '7'"),
        (lambda: Likert("q", "Q", points=True), "points must be a whole number, got bool"),
        (lambda: Likert("q", "Q", points=1), "points must be at least 2"),
        (lambda: MultipleChoice("q", "Q", choices="ab"), "choices must be a list"),
        (lambda: MultipleChoice("q", "Q", choices=["a", "a"]), "lists 'a' twice"),
        (lambda: Number("q", "Q", minimum=5, maximum=1), "minimum 5 is above maximum 1"),
        (lambda: Number("q", "Q", minimum=0.2, maximum=0.8, integer=True), "no whole number"),
        (lambda: FreeText("q", "Q", max_length=0), "max_length must be at least 1"),
        (lambda: SurveyScene("s", questions=[]), "questions must be a non-empty list"),
        (lambda: SurveyScene("s", questions=["q"]), "questions[0] is a str 'q', not a question"),
        (lambda: EndScene(redirect_delay_s="3"), "redirect_delay_s must be a finite number"),
        (lambda: EndScene(redirect_url="ftp://x"), "is not an http(s) URL"),
        (lambda: EndScene(redirect_url="https://x/?a={b.c}"), "is not a plain name"),
        (lambda: RandomizeOrder([page("a")], keep_n=2), "keep_n must be at most 1"),
        (lambda: Experiment("x", scenes=[EndScene()], seed=-1), "seed must be at least 0"),
        (lambda: Experiment("x", scenes=page("a")), "scenes must be a non-empty list"),
    ],
)
def test_wrong_types_and_values_name_the_field(build, fragment: str) -> None:  # noqa: ANN001
    with pytest.raises(StudyError) as err:
        build()
    assert fragment in str(err.value)


def test_bad_scene_id_suggests_a_valid_one() -> None:
    with pytest.raises(StudyError, match="(?s)scene_id 'my scene!' is not a valid id.*'my_scene'"):
        page("my scene!")


def test_static_scene_needs_exactly_one_content_source() -> None:
    with pytest.raises(StudyError, match="(?s)neither was given"):
        StaticScene("a")
    with pytest.raises(StudyError, match="(?s)not both"):
        StaticScene("a", html="x", html_file="x.html")


def test_missing_file_names_field_path_and_folder(tmp_path: Path) -> None:
    scene = StaticScene("info", html_file="pages/info.html")
    with pytest.raises(StudyError) as err:
        Experiment("x", scenes=[scene, EndScene()], base_dir=tmp_path)
    message = str(err.value)
    assert "StaticScene('info')" in message and "html_file 'pages/info.html'" in message
    assert str(tmp_path) in message


def test_html_file_is_read_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "info.html").write_text("<p>Hello</p>")
    scene = StaticScene("info", html_file="pages/info.html")
    Experiment("x", scenes=[scene, EndScene()], base_dir=tmp_path)
    assert scene.to_client(ctx())["html"] == "<p>Hello</p>"


# the experiment as a whole -------------------------------------------------------------------


def test_duplicate_scene_id_is_refused_with_both_scenes_named() -> None:
    with pytest.raises(StudyError) as err:
        Experiment(
            "x", scenes=[page("intro"), RandomizeOrder([page("a"), page("intro")]), EndScene()]
        )
    message = str(err.value)
    assert "scene id 'intro' is used twice" in message
    assert "scenes[1].scenes[1]" in message
    assert "give every scene its own scene_id" in message


def test_same_scene_object_twice_in_one_path_is_refused() -> None:
    intro = page("intro")
    with pytest.raises(StudyError, match="(?s)appears twice in one participant's path"):
        Experiment("x", scenes=[intro, intro, EndScene()])
    with pytest.raises(StudyError, match="(?s)appears twice"):
        Experiment("x", scenes=[intro, Conditions({"a": [intro], "b": [page("b")]}), EndScene()])


def test_one_scene_object_may_serve_several_conditions() -> None:
    shared = page("shared")
    exp = Experiment(
        "x", scenes=[Conditions({"a": [shared], "b": [shared, page("b")]}), EndScene()]
    )
    assert exp.scene_order("p", "a") == ["shared", "end"]
    assert exp.scene_order("p", "b") == ["shared", "b", "end"]


def test_the_last_scene_must_be_the_only_end_scene() -> None:
    with pytest.raises(StudyError, match="(?s)not an EndScene.*fix: end the study with EndScene"):
        Experiment("x", scenes=[page("a")])
    with pytest.raises(StudyError, match="(?s)EndScene before the end"):
        Experiment("x", scenes=[EndScene("early"), page("a"), EndScene()])
    with pytest.raises(StudyError, match="(?s)EndScene before the end"):
        Experiment("x", scenes=[RandomizeOrder([page("a"), EndScene("e2")]), EndScene()])


def test_only_one_conditions_block() -> None:
    c1 = Conditions({"a": [page("a")], "b": [page("b")]})
    c2 = Conditions({"c": [page("c")], "d": [page("d")]})
    with pytest.raises(StudyError, match="(?s)more than one Conditions block"):
        Experiment("x", scenes=[c1, c2, EndScene()])


def test_conditions_need_two_named_non_empty_blocks() -> None:
    with pytest.raises(StudyError, match="(?s)at least two named conditions"):
        Conditions({"a": [page("a")]})
    with pytest.raises(StudyError, match=r"(?s)Conditions\['b'\].*non-empty list"):
        Conditions({"a": [page("a")], "b": []})
    with pytest.raises(StudyError, match="(?s)condition name 'a b' is not a valid id"):
        Conditions({"a b": [page("a")], "c": [page("c")]})


def test_non_scene_in_scenes_is_named_by_index() -> None:
    with pytest.raises(StudyError, match=r"(?s)scenes\[1\] is a str 'survey', not a scene"):
        Experiment("x", scenes=[page("a"), "survey", EndScene()])


def test_base_dir_defaults_to_the_calling_file_folder() -> None:
    exp = Experiment("x", scenes=[EndScene()])
    assert exp.base_dir == Path(__file__).resolve().parent


# ordering, conditions, seeds -----------------------------------------------------------------


def test_seeds_are_hash_based_and_reproducible() -> None:
    assert derive_seed(1, "a", 2) == derive_seed(1, "a", 2)
    assert derive_seed(1, "a", 2) != derive_seed(1, "a", 3)
    assert derive_seed(1, "a") != derive_seed("1", "a")
    assert 0 <= derive_seed("x") < 2**32
    assert participant_seed(7, "alice") != participant_seed(8, "alice")


def test_seed_derivation_matches_its_specification() -> None:
    import hashlib
    import json

    parts = ["participant", 7, "alice"]
    digest = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).digest()
    assert participant_seed(7, "alice") == int.from_bytes(digest[:8], "big") >> 32


def test_shuffled_is_a_reproducible_permutation_that_varies_with_seed() -> None:
    items = list(range(8))
    assert shuffled(items, 1) == shuffled(items, 1)
    assert sorted(shuffled(items, 1)) == items
    assert len({tuple(shuffled(items, s)) for s in range(50)}) > 40


def test_randomize_order_is_per_participant_and_reproducible() -> None:
    exp = Experiment(
        "x",
        scenes=[page("intro"), RandomizeOrder([page("a"), page("b"), page("c")]), EndScene()],
        seed=11,
    )
    orders = {pid: exp.scene_order(pid, None) for pid in (f"p{i}" for i in range(60))}
    for pid, order in orders.items():
        assert order[0] == "intro" and order[-1] == "end"
        assert sorted(order[1:4]) == ["a", "b", "c"]
        assert exp.scene_order(pid, None) == order  # same participant, same order
    # All six orders occur across 60 participants.
    assert len({tuple(o[1:4]) for o in orders.values()}) == 6
    other_seed = Experiment("x", scenes=exp.items, seed=12)
    assert any(other_seed.scene_order(p, None) != o for p, o in orders.items())


def test_randomize_order_keep_n_picks_a_subset() -> None:
    exp = Experiment("x", scenes=[RandomizeOrder([page(c) for c in "abcd"], keep_n=2), EndScene()])
    picked = Counter()
    for i in range(200):
        order = exp.scene_order(f"p{i}", None)
        assert len(order) == 3 and len(set(order[:2])) == 2
        picked.update(order[:2])
    assert set(picked) == set("abcd")


def test_nested_randomize_order_moves_as_one_block() -> None:
    inner = RandomizeOrder([page("x1"), page("x2")])
    exp = Experiment("x", scenes=[RandomizeOrder([page("a"), inner, page("b")]), EndScene()])
    for i in range(40):
        order = exp.scene_order(f"p{i}", None)
        xs = [order.index("x1"), order.index("x2")]
        assert abs(xs[0] - xs[1]) == 1


def test_condition_assignment_is_least_filled_first_ties_in_declared_order() -> None:
    exp = Experiment(
        "x",
        scenes=[
            Conditions({"solo": [page("s")], "team": [page("t")], "mix": [page("m")]}),
            EndScene(),
        ],
    )
    assert exp.condition_names == ["solo", "team", "mix"]
    assert exp.assign_condition({}) == "solo"
    assert exp.assign_condition({"solo": 1}) == "team"
    assert exp.assign_condition({"solo": 1, "team": 1}) == "mix"
    assert exp.assign_condition({"solo": 2, "team": 1, "mix": 1}) == "team"
    counts: Counter[str] = Counter()
    for _ in range(30):
        counts[exp.assign_condition(counts)] += 1  # type: ignore[index]
    assert counts == {"solo": 10, "team": 10, "mix": 10}
    assert exp.scene_order("p", "team") == ["t", "end"]
    with pytest.raises(KeyError):
        exp.scene_order("p", "nope")


def test_no_conditions_means_no_condition() -> None:
    exp = Experiment("x", scenes=[page("a"), EndScene()])
    assert exp.assign_condition({}) is None
    assert exp.scene_order("p", None) == ["a", "end"]


# responses -------------------------------------------------------------------------------------


def test_consent_page_requires_the_box_on_the_server() -> None:
    scene = StaticScene("consent", html="x", consent="I agree")
    assert scene.validate_response({"consent": True}, ctx()) == {"consent": True}
    for bad in (None, {}, {"consent": False}, {"consent": "yes"}, {"consent": True, "x": 1}):
        with pytest.raises(ResponseError):
            scene.validate_response(bad, ctx())
    assert page("plain").validate_response({}, ctx()) == {}
    with pytest.raises(ResponseError):
        page("plain").validate_response({"consent": True}, ctx())


def survey() -> SurveyScene:
    return SurveyScene(
        "s",
        questions=[
            Likert("fun", "Fun?", points=5),
            MultipleChoice("hand", "Hand?", choices=["left", "right"]),
            MultipleChoice("keys", "Keys?", choices=["a", "b", "c"], multiple=True, required=False),
            FreeText("notes", "Notes?", max_length=10, required=False),
            Number("age", "Age?", minimum=18, maximum=99, integer=True),
        ],
    )


def test_survey_answers_are_checked_and_cleaned_on_the_server() -> None:
    answers = {"fun": 3, "hand": "left", "keys": ["a", "c"], "notes": "  hi ", "age": 30.0}
    cleaned = survey().validate_response({"answers": answers}, ctx())["answers"]
    assert cleaned == {"fun": 3, "hand": "left", "keys": ["a", "c"], "notes": "hi", "age": 30}
    assert isinstance(cleaned["age"], int)
    optional_skipped = {"fun": 1, "hand": "right", "age": 18, "notes": "   "}
    cleaned = survey().validate_response({"answers": optional_skipped}, ctx())["answers"]
    assert cleaned["keys"] is None and cleaned["notes"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fun": None}, "fun"),
        ({"fun": 6}, "fun"),
        ({"fun": True}, "fun"),
        ({"hand": "both"}, "hand"),
        ({"keys": ["a", "a"]}, "keys"),
        ({"keys": ["z"]}, "keys"),
        ({"notes": "x" * 11}, "notes"),
        ({"age": 17}, "age"),
        ({"age": 30.5}, "age"),
        ({"age": "30"}, "age"),
        ({"age": float("nan")}, "age"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_survey_answers_are_refused_naming_the_question(change: dict, field: str) -> None:
    answers = {"fun": 3, "hand": "left", "age": 30, **change}
    with pytest.raises(ResponseError) as err:
        survey().validate_response({"answers": answers}, ctx())
    assert err.value.field == field


def test_survey_question_ids_are_unique() -> None:
    with pytest.raises(StudyError, match="(?s)question id 'q' is used twice"):
        SurveyScene("s", questions=[Likert("q", "A"), Likert("q", "B")])


# the end scene ---------------------------------------------------------------------------------


KEY = b"k" * 32


def test_end_scene_code_is_fixed_or_keyed_per_participant() -> None:
    assert EndScene(completion_code="ABC123").code_for(ctx(), KEY) == "ABC123"
    code = EndScene().code_for(ctx(), KEY)
    assert code == generated_code(KEY, "exp", "p1") and len(code) == 10
    assert set(code) <= set(CODE_ALPHABET)
    assert EndScene().code_for(ctx(participant_id="p2"), KEY) != code
    assert EndScene().completion(ctx(), code)["completion_code"] == code


def test_generated_codes_depend_on_the_server_key_not_on_the_seed() -> None:
    code = EndScene().code_for(ctx(), KEY)
    assert EndScene().code_for(ctx(seed=6), KEY) == code  # the seed the page sees is no key
    assert EndScene().code_for(ctx(), b"x" * 32) != code


def test_end_scene_redirect_is_filled_with_url_params_encoded() -> None:
    end = EndScene(
        completion_code="C 1",
        redirect_url="https://example.org/done?cc={completion_code}&pid={PROLIFIC_PID}&x={MISSING}",
    )
    done = end.completion(ctx(url_params={"PROLIFIC_PID": "a&b"}), "C 1")
    assert done["redirect_url"] == "https://example.org/done?cc=C%201&pid=a%26b&x="


def test_end_scene_does_not_reveal_the_code_in_its_description() -> None:
    description = EndScene(completion_code="SECRET").to_client(ctx())
    assert "SECRET" not in repr(description)
    assert description["module"].endswith("/end.js")


# scene types -----------------------------------------------------------------------------------


def test_scene_types_are_registered_with_their_browser_modules() -> None:
    assert {"static", "survey", "end", "gym"} <= set(SCENE_TYPES)
    for scene_type, cls in SCENE_TYPES.items():
        assert cls.scene_type == scene_type
        assert cls.client_module.startswith("/static/js/study/scenes/")


def test_builtin_scene_modules_exist() -> None:
    static = Path(__file__).resolve().parents[2] / "interactive_gym" / "server" / "static"
    for scene_type in ("static", "survey", "end", "gym"):
        module = SCENE_TYPES[scene_type].client_module.removeprefix("/static/")
        assert (static / module).is_file(), module


def test_game_scene_checks_its_options() -> None:
    with pytest.raises(StudyError, match="(?s)agents must be a non-empty dict"):
        GymScene("play", env_file="env.py")


def test_a_new_scene_type_registers_itself() -> None:
    class Rating(Scene):
        scene_type = "test_rating"
        client_module = "/static/js/test_rating.js"

        def __init__(self, scene_id: str, *, stars: int = 5, **unknown: object) -> None:
            super().__init__(scene_id, unknown)
            self.stars = stars

    try:
        assert SCENE_TYPES["test_rating"] is Rating
        with pytest.raises(StudyError, match="(?s)unknown option 'star'.*did you mean 'stars'"):
            Rating("r", star=3)
        exp = Experiment("x", scenes=[Rating("r"), EndScene()])
        assert exp.scene("r").to_client(ctx())["module"] == "/static/js/test_rating.js"
        with pytest.raises(StudyError, match="(?s)already registered"):
            type("Other", (Scene,), {"scene_type": "test_rating"})
    finally:
        SCENE_TYPES.pop("test_rating", None)
