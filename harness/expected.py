"""Closed-form expectations: what a run should take when nothing goes wrong.

With a fixed seed every call's latency is known from the mock's behaviour model, so a file's
duration is the sum of the calls the extractor makes for it, and each strategy knows the makespan
it gives such durations (``Strategy.planned_makespan_s``). Only where ``closed_form_applies``.
"""

from __future__ import annotations

from functools import lru_cache

from harness.extractor import session_description
from harness.outcomes import ItemKind, WorkItem
from harness.strategies import Adaptive, Strategy
from mock_onyx import Behaviour, Distribution, Endpoint, Profile


def closed_form_applies(profile: Profile, file_ids: list[int], folders: int) -> bool:
    """Whether every file runs its full call sequence once and succeeds, as the closed form
    assumes: files only, no faults, credentials not demanded (the embedded mock gets none), no
    file of the run missing or not indexed (those end early, as skipped), and an ideal server:
    no capacity limit (queueing, slowdown and crashes depend on what else is in flight)."""
    skipped = profile.files.missing | profile.files.not_indexed
    return (not folders and not any(profile.faults.values()) and not profile.require_auth
            and not profile.capacity.enabled and not skipped.intersection(file_ids))


def call_latency_s(behaviour: Behaviour, endpoint: Endpoint, file_id: int) -> float:
    """What the mock draws for the extractor's first call to ``endpoint`` for one file."""
    if endpoint is Endpoint.PERSONA:
        return behaviour.latency_s(endpoint, "-")
    if endpoint is Endpoint.SIMPLE_API and not behaviour.profile.enterprise:
        return behaviour.rejection_latency_s(endpoint)  # the 404 of a non-enterprise build
    if endpoint in (Endpoint.CREATE_CHAT_SESSION, Endpoint.SIMPLE_API):
        item = WorkItem(ItemKind.FILE, file_id)
        return behaviour.latency_s(endpoint, f"session:{session_description(item)}")
    return behaviour.latency_s(endpoint, f"file:{file_id}")


def file_duration_s(behaviour: Behaviour, file_id: int) -> float:
    """The extractor's calls for one file, one after another (the persona is counted apart)."""
    calls = [Endpoint.INDEXING_STATUS, Endpoint.CREATE_CHAT_SESSION, Endpoint.SIMPLE_API]
    if not behaviour.profile.enterprise:
        calls.append(Endpoint.SEND_MESSAGE)
    return sum(call_latency_s(behaviour, endpoint, file_id) for endpoint in calls)


def expected_file_durations_s(profile: Profile, file_ids: list[int], first_wave: int) -> list[float]:
    """Per-file durations; the first ``first_wave`` files also wait for the one persona fetch."""
    behaviour = Behaviour(profile)
    persona = behaviour.latency_s(Endpoint.PERSONA, "-")
    return [file_duration_s(behaviour, file_id) + (persona if index < first_wave else 0.0)
            for index, file_id in enumerate(file_ids)]


def expected_makespan_s(strategy: Strategy, profile: Profile, file_ids: list[int]) -> float:
    # The files that start before the persona is cached: adaptive starts its first limit's worth
    wave = strategy.first_limit if isinstance(strategy, Adaptive) else strategy.size or 1
    return strategy.planned_makespan_s(expected_file_durations_s(profile, file_ids, wave))


@lru_cache(maxsize=1024)
def expected_max_s(dist: Distribution, k: int, points: int = 4096) -> float:
    """E[max of k independent draws], for any k.

    The largest of k uniforms is V^(1/k) with V uniform, so E[max] = integral over v in (0, 1) of
    Q(v^(1/k)) dv; with v = w^4 (points crowd where v^(1/k) rises from 0 for large k) that is
    the integral of Q(w^(4/k)) 4 w^3 dw, taken by the midpoint rule with its weights normalised
    (so a constant comes out exact). The old form, Q(u) k u^(k-1) on an even grid, put all its
    weight between two grid points once k passed the grid's size (E[max of 10,000 uniform(15, 30)]
    came out 23.7 s)."""
    total = weights = 0.0
    for i in range(points):
        w = (i + 0.5) / points
        weight = w ** 3
        total += dist.quantile(w ** (4.0 / k)) * weight
        weights += weight
    return total / weights


def expected_mean_makespan_s(strategy: Strategy, profile: Profile, n_files: int) -> float | None:
    """The makespan averaged over the profile's distributions (not one seed's draws), for
    strategies with a closed form. The short calls enter by their means; exact when they are
    fixed, as in the seed's profile."""
    send = profile.latency_of(Endpoint.SEND_MESSAGE)
    short = (profile.latency_of(Endpoint.INDEXING_STATUS).mean
             + profile.latency_of(Endpoint.CREATE_CHAT_SESSION).mean
             + (profile.latency_of(Endpoint.SIMPLE_API).mean if profile.enterprise
                else profile.error_latency.mean))
    if profile.enterprise:
        send = profile.latency_of(Endpoint.SIMPLE_API)
        short -= send.mean
    mean = strategy.mean_makespan_s(n_files, send.mean + short,
                                    lambda k: expected_max_s(send, k) + short)
    return None if mean is None else mean + profile.latency_of(Endpoint.PERSONA).mean
