"""A tenant's quality scorecards: what supervisors score calls against (acd.server.quality).

```toml
[[tenants.store.scorecards]]
id = "voice"                        # what evaluations and reports name
name = "Voice calls"
max_score = 5                       # the scale of its criteria: 0..max_score (default 5)

[[tenants.store.scorecards.criteria]]
id = "greeting"
name = "Greeting and identification"
weight = 1                          # its share of the weighted total (a positive number)

[[tenants.store.scorecards.criteria]]
id = "resolution"
weight = 3
max_score = 10                      # this criterion's own scale (default: the scorecard's)
```

An evaluation scores every criterion of its scorecard with an integer 0..max_score; its
weighted total is ``100 * sum(weight * score / max_score) / sum(weight)`` (a percentage, so
criteria of different scales weigh as their weights say). The router knows none of this.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.server.config_fields import ConfigError, Table, unique

QUALITY_TENANT_KEYS = ("scorecards",)
_SCORECARD_KEYS = ("id", "name", "max_score", "criteria")
_CRITERION_KEYS = ("id", "name", "weight", "max_score")
DEFAULT_MAX_SCORE = 5
MAX_SCORE_LIMIT = 100
MAX_WEIGHT = 1000.0
MAX_SCORECARDS = 100
MAX_CRITERIA = 50


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    name: str
    weight: float
    max_score: int


@dataclass(frozen=True, slots=True)
class Scorecard:
    id: str
    name: str
    max_score: int  # the default scale of its criteria, as configured
    criteria: tuple[Criterion, ...]

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


@dataclass(frozen=True, slots=True)
class TenantQuality:
    scorecards: tuple[Scorecard, ...] = ()

    def scorecard(self, scorecard_id: str) -> Scorecard | None:
        return next((s for s in self.scorecards if s.id == scorecard_id), None)


def _criterion(t: Table, default_max: int) -> Criterion:
    criterion_id = t.ident("id")
    weight = t.number("weight", 1, 0, MAX_WEIGHT)
    if weight <= 0:
        raise ConfigError(t.key("weight"), "must be more than 0")
    return Criterion(
        id=criterion_id,
        name=t.string("name", criterion_id),
        weight=weight,
        max_score=t.integer("max_score", default_max, 1, MAX_SCORE_LIMIT),
    )


def _scorecard(t: Table) -> Scorecard:
    scorecard_id = t.ident("id")
    default_max = t.integer("max_score", DEFAULT_MAX_SCORE, 1, MAX_SCORE_LIMIT)
    tables = t.tables("criteria", _CRITERION_KEYS)
    if not tables:
        raise ConfigError(t.key("criteria"), "a scorecard needs at least one criterion")
    if len(tables) > MAX_CRITERIA:
        raise ConfigError(t.key("criteria"), f"at most {MAX_CRITERIA} criteria")
    criteria = tuple(_criterion(c, default_max) for c in tables)
    unique(((ct.key("id"), c.id) for ct, c in zip(tables, criteria, strict=True)), "criterion")
    return Scorecard(scorecard_id, t.string("name", scorecard_id), default_max, criteria)


def parse_tenant_quality(t: Table) -> TenantQuality:
    """The scorecards of the tenant table ``t`` (its other keys are config_tenant's)."""
    tables = t.tables("scorecards", _SCORECARD_KEYS)
    if len(tables) > MAX_SCORECARDS:
        raise ConfigError(t.key("scorecards"), f"at most {MAX_SCORECARDS} scorecards")
    scorecards = tuple(_scorecard(s) for s in tables)
    unique(((st.key("id"), s.id) for st, s in zip(tables, scorecards, strict=True)), "scorecard")
    return TenantQuality(scorecards)


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def tenant_quality_raw(q: TenantQuality) -> dict[str, object]:
    """The file's keys for ``q`` (the inverse of ``parse_tenant_quality``)."""
    if not q.scorecards:
        return {}
    return {
        "scorecards": [
            {
                "id": s.id,
                "name": s.name,
                "max_score": s.max_score,
                "criteria": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "weight": _number(c.weight),
                        "max_score": c.max_score,
                    }
                    for c in s.criteria
                ],
            }
            for s in q.scorecards
        ]
    }
