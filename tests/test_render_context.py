"""The built-in targets' rendering shortcuts, held to what Jinja2's own ways give: a target's context
rendered in as it is (no copy per file), and a dict's keys looked up without trying an attribute first."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunespec.templates import render
from tunespec.templates.targets import RenderError, target_from


def _target(folder: Path, templates: dict[str, str], sandboxed: bool = False):
    for name, text in templates.items():
        (folder / name).write_text(text, encoding="utf-8")
    data = {"name": "probe", "summary": "a probe", "methods": ["lora"],
            "files": [{"template": name, "output": name.removesuffix(".j2"), "format": "yaml"} for name in templates]}
    return target_from(data, folder, sandboxed)


def _plain_render(folder: Path, template: str, values: dict) -> str:
    """What `Template.render` gives in an environment like the built-in one, with Jinja2's own lookups."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), **render._OPTIONS)
    env.filters.update(render.FILTERS)
    return env.get_template(template).render(values)


def _values(target) -> dict:
    variant = {"spec": {"training": {"epochs": 2, "items": "a key named as a method",
                                     "big": float("inf")}}, "name": "n",
               "run_folder": "runs/n", "model": {"hf_id": "m"}}
    return render.context(None, target, "out/n/probe", "../..", variant)


TEMPLATES = {
    "one.j2": "{% set shown = spec.training.epochs %}{{ shown | yaml }} {{ range(2) | list | yaml }}"
              " {{ spec.training['items'] | yaml }} {{ spec.training.items() | list | length }}\n",
    "two.j2": "{{ shown is defined }} {{ namespace(a=1).a }} {{ dict(b=2) | yaml }}\n",
}


def test_a_builtin_template_renders_in_the_shared_context_what_template_render_gives(tmp_path):
    target = _target(tmp_path, TEMPLATES)
    values = _values(target)
    before = dict(values)
    env = render._environment_for(target, "yaml")
    for name in TEMPLATES:  # (the second does not see what the first set: each file has its own context)
        assert render._render_builtin(env, target, name, values) == _plain_render(tmp_path, name, values)
    assert values == before
    assert render._render_builtin(env, target, "two.j2", values) == "False 1 {b: 2}\n"


def test_a_sandboxed_target_context_leaves_the_sandbox_its_own_globals(tmp_path):
    target = _target(tmp_path, {"t.j2": "{{ range(3) | list }}\n"}, sandboxed=True)
    assert "range" not in _values(target)
    builtin = _target(tmp_path, {"t.j2": "{{ range(3) | list }}\n"})
    assert _values(builtin)["range"] is range


@pytest.mark.parametrize("text", ["{{ spec.training.missing }}\n", "{{ nothing }}\n",
                                  "{{ spec.training.epochs.x.y }}\n", "{% for x in spec.missing %}{% endfor %}\n",
                                  "{{ 1 // 0 }}\n"])
def test_a_failing_builtin_template_is_reported_as_before(tmp_path, text):
    target = _target(tmp_path, {"bad.j2": text})
    values = _values(target)
    with pytest.raises(Exception) as plain:
        _plain_render(tmp_path, "bad.j2", values)
    with pytest.raises(Exception) as shared:
        render._render_builtin(render._environment_for(target, "yaml"), target, "bad.j2", values)
    if isinstance(plain.value, jinja2.TemplateError):
        assert shared.type is RenderError
        assert str(shared.value) == f"target `probe`, bad.j2: {plain.value.message or plain.value}"
    else:
        assert (shared.type, str(shared.value)) == (plain.type, str(plain.value))


def test_a_filter_failing_in_a_builtin_template_raises_its_own_error(tmp_path):
    target = _target(tmp_path, {"inf.j2": "{{ spec.training.big | py }}\n"})
    with pytest.raises(RenderError, match="has no Python literal"):
        render._render_builtin(render._environment_for(target, "yaml"), target, "inf.j2", _values(target))


NAMES = st.one_of(st.sampled_from(sorted(render._DICT_ATTRIBUTES)), st.text(max_size=8),
                  st.sampled_from(["epochs", "get", "items", "__class__", "__dict__", "__missing__", "mro"]))


class _Mapping(dict):
    note = "an attribute of a subclass"


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(NAMES, st.integers(), max_size=4), NAMES, st.booleans())
def test_a_dict_lookup_finds_what_jinja2_finds(data, name, subclass):
    obj = _Mapping(data) if subclass else data
    fast = render._BuiltinEnvironment(undefined=jinja2.StrictUndefined)
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined)
    found, expected = fast.getattr(obj, name), plain.getattr(obj, name)
    if isinstance(expected, jinja2.Undefined):
        assert type(found) is type(expected)
        assert (found._undefined_obj, found._undefined_name, found._undefined_hint) == \
            (expected._undefined_obj, expected._undefined_name, expected._undefined_hint)
    else:
        assert found == expected and type(found) is type(expected)


CALLS = {
    "calls.j2": "{% set seen = [] %}{% for x in spec.training.values() %}{% set _ = seen.append(x) %}{% endfor %}"
                "{{ seen | length }} {{ spec.training.get('epochs', 0) }} {{ spec.training.get('none', 'd') }}"
                " {{ name.startswith('n') }} {{ relative_to_folder('out/x') }} {{ dict(a=1) | yaml }}"
                " {{ len(seen) }} {{ next(empty) is defined }}\n",
}


def test_calls_in_a_builtin_template_give_what_jinja2_gives(tmp_path):
    """(C functions are called at once; Jinja2's own way asks each callable whether it takes the context.)"""
    target = _target(tmp_path, CALLS)
    values = {**_values(target), "len": len, "next": next, "empty": iter(())}
    expected = _plain_render(tmp_path, "calls.j2", {**values, "empty": iter(())})
    assert render._render_builtin(render._environment_for(target, "yaml"), target, "calls.j2", values) == expected
    assert expected == "3 2 d True ../../x {a: 1} 3 False\n"


def test_a_c_function_failing_in_a_builtin_template_raises_what_it_raised(tmp_path):
    target = _target(tmp_path, {"bad.j2": "{{ spec.training.get() }}\n"})
    with pytest.raises(TypeError) as plain:
        _plain_render(tmp_path, "bad.j2", _values(target))
    with pytest.raises(TypeError) as shared:
        render._render_builtin(render._environment_for(target, "yaml"), target, "bad.j2", _values(target))
    assert str(shared.value) == str(plain.value)
