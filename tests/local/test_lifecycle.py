"""The one state table of an environment (local/lifecycle.py), on its own."""

from __future__ import annotations

import itertools

import pytest

from lambdastream.local import lifecycle
from lambdastream.local.lifecycle import ALLOWED, DEAD, STARTED, IllegalTransition, Lifecycle

STATES = sorted(ALLOWED)


def _at(state: str) -> Lifecycle:
    """A lifecycle moved to ``state`` along allowed transitions."""
    path = {STARTED: [STARTED]}
    frontier = [STARTED]
    while frontier:
        here = frontier.pop()
        for nxt in ALLOWED[here]:
            if nxt not in path:
                path[nxt] = [*path[here], nxt]
                frontier.append(nxt)
    life = Lifecycle("environment 1")
    for step in path[state][1:]:
        life.to(step)
    return life


def test_every_state_is_reachable_from_started_and_can_die():
    for state in STATES:
        assert _at(state).state == state
        assert state == DEAD or DEAD in ALLOWED[state]


@pytest.mark.parametrize(("here", "there"), list(itertools.product(STATES, STATES)))
def test_the_table_decides_every_transition(here, there):
    life = _at(here)
    if there in ALLOWED[here]:
        life.to(there)
        assert life.state == there
    else:
        with pytest.raises(IllegalTransition, match=f"environment 1: {here} -> {there}"):
            life.to(there)
        assert life.state == here  # a refused move changes nothing


def test_the_states_are_named_as_lambdas_runtime_api_names_them():
    # The 403 a runtime gets quotes them ("State transition from
    # InvocationResponse to Ready failed"), as the emulator's states.go does.
    assert lifecycle.RESPONDING == "InvocationResponse"
    assert lifecycle.RESPONSE_SENT == "ResponseSent"
    assert lifecycle.READY == "Ready"
    assert lifecycle.RUNNING == "Running"
