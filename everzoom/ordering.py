"""Order an unordered folder of zoom-out images innermost first, prove the order, and leave out
what does not belong.

Fast coarse scores (containment.py) say which image may sit inside which, and at about what
zoom. Each image's nearest candidate outer image (the smallest zoom) is then confirmed by the
pair registration that rendering uses (register_pair, with its confidence); where it is
refused, the next candidate is tried. Confirmed links chain the images: image a's successor is
its nearest confirmed outer image. Two images at the same step (the same footprint in the
same outer image, or in one another's place) are variants of one step, and the one whose
surroundings agree better with the next, outer image is kept. A chain whose outermost image
sits inside its innermost one is a closed loop. The refused pairs are looked at again with
what the confirmed ones say about the series (the spot where its inner images sit, its factor)
before an image is left out; a link accepted only that way is weak.

What cannot be proved is said, never papered over: `Sorting.problems` (weak links, variants
nothing tells apart) make `everzoom sort` fail unless --force, and a folder of several chains
lists each (`choose` picks one only when asked to).
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .containment import DUPLICATE, ZOOMS, containment, duplicates
from .errors import EverzoomError
from .images import natural_key
from .register import GUIDED, NO_ANCHOR, SEARCH, Anchor, PairFit, anchor_of, detail_problem, register_pair

CANDIDATE = 0.5          # a coarse score above this makes a candidate link, confirmed by registration,
MARGIN = 0.2             # ... if within this of the image's best score (images of one scene look alike)
STRONG = 0.75            # a candidate this strong is searched again with the series' guidance if refused
SAME_STEP = 0.25         # footprints closer than this fraction of a step (in log zoom): variants of one step
TIE = 0.02               # variants whose evidence differs by less than this cannot be told apart
TRIES = 4                # candidates refused before an image is taken for the outermost of its chain
GAP = 0.1                # a link this far (log) from its chain's common factor is pointed out
RETRY_SPAN = 1.06        # the guided search looks this close to the chain's factor
THREADS = 2


@dataclass
class Link:
    """Image `inner` inside image `outer`, as registration confirmed it."""

    inner: str
    outer: str
    zoom: float
    confidence: float
    offset: tuple[float, float]
    score: float                 # the coarse score that proposed it
    weak: bool = False           # confirmed only with the series' guidance

    @classmethod
    def of(cls, fit: PairFit, score: float) -> "Link":
        return cls(fit.inner, fit.outer, fit.zoom, fit.confidence, fit.offset, score, fit.guided)

    def as_dict(self) -> dict:
        return {"inner": self.inner, "outer": self.outer, "zoom": round(self.zoom, 4),
                "confidence": round(self.confidence, 4), "offset_px": [round(v, 2) for v in self.offset],
                "score": round(self.score, 4), "weak": self.weak}


@dataclass
class Chain:
    order: list[str]             # innermost first
    links: list[Link]            # between consecutive images of `order`
    loop: Link | None = None     # the outermost image inside the innermost: a closed loop

    def as_dict(self) -> dict:
        return {"order": self.order, "links": [link.as_dict() for link in self.links],
                "loop": self.loop.as_dict() if self.loop else None}


@dataclass
class Sorting:
    chains: list[Chain]                    # longest first
    left_out: dict[str, str]               # name -> why
    problems: list[str]                    # what leaves the order unproven (sort fails unless --force)
    notes: list[str] = field(default_factory=list)   # worth saying, no doubt about the order
    timings: dict[str, float] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # name -> pixels

    def pictures(self, chain: Chain) -> list[np.ndarray]:
        """The images of a chain, in its order."""
        return [self.images[name] for name in chain.order]

    def choose(self, series: int | None = None, force: bool = False) -> Chain:
        """The chain to render: the only one, or number `series` (1: the longest) of several; an
        unproven order only with `force`."""
        if not self.chains:
            raise EverzoomError("no two images fit together as a zoom-out series")
        if series is None and len(self.chains) > 1:
            listed = "; ".join(f"{i} ({len(c.order)} images): {', '.join(c.order)}"
                               for i, c in enumerate(self.chains, 1))
            raise EverzoomError(f"the folder holds {len(self.chains)} separate zoom series: {listed}; "
                                "choose one with --series N")
        if series is not None and not 1 <= series <= len(self.chains):
            raise EverzoomError(f"--series {series}: the folder holds {len(self.chains)} series")
        if self.problems and not force:
            raise EverzoomError(f"the order is not proven: {'; '.join(self.problems)}")
        return self.chains[(series or 1) - 1]

    def as_dict(self) -> dict:
        return {"chains": [c.as_dict() for c in self.chains], "left_out": self.left_out,
                "problems": self.problems, "notes": self.notes,
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()}}


class Evidence:
    """Candidate links and their registrations (each pair registered once), the series'
    anchor as the confirmed links tell it."""

    def __init__(self, images: list[np.ndarray], names: list[str], score: np.ndarray, zoom: np.ndarray):
        self.images, self.names, self.score, self.zoom = images, names, score, zoom
        self.fits: dict[tuple[int, int], PairFit] = {}
        self.anchor: Anchor = NO_ANCHOR

    def verify(self, a: int, b: int, prior: float | None = None, everywhere: bool = False) -> PairFit:
        """Image a registered inside image b: near the coarse zoom or `prior`, or at any zoom."""
        if (a, b) not in self.fits:
            zoom = None if everywhere else prior or self.zoom[a, b]
            self.fits[(a, b)] = register_pair(self.images[a], self.images[b], zoom,
                                              (self.names[a], self.names[b]), anchor=self.anchor)
        return self.fits[(a, b)]

    def ok(self, a: int, b: int) -> bool:
        return (a, b) in self.fits and self.fits[(a, b)].ok

    def candidates(self, a: int, alive: list[int]) -> list[int]:
        """The images a may sit inside, nearest (smallest zoom) first."""
        others = [b for b in alive if b != a]
        if not others:
            return []
        least = max(CANDIDATE, max(self.score[a, b] for b in others) - MARGIN)
        return sorted((b for b in others if self.score[a, b] >= least), key=lambda b: self.zoom[a, b])

    def options(self, a: int, alive: list[int]) -> list[int]:
        """a's nearest confirmed outer images: the first one, and any at the same step."""
        found: list[int] = []
        refused = 0
        for b in self.candidates(a, alive):
            if (found and not same_step(self.zoom[a, b], self.fits[(a, found[0])].zoom)) or refused == TRIES:
                break
            if self.verify(a, b).ok:
                found.append(b)
            else:
                refused += 1
        return found

    def judge_again(self) -> bool:
        """Take the series' anchor from the confirmed links and judge the refused ones against
        it; whether any verdict changed."""
        good = [(f, self.images[b].shape) for (_, b), f in self.fits.items() if f.ok]
        anchors = np.array([anchor_of(f.offset, s) for f, s in good])
        if len(anchors) >= 2:
            self.anchor = (float(np.median(anchors[:, 0])), float(np.median(anchors[:, 1])))
        changed = False
        for (a, b), f in self.fits.items():
            if f.problem.startswith("its detail") and not detail_problem(f, self.images[b].shape, SEARCH, self.anchor):
                self.fits[(a, b)] = replace(f, problem="")
                changed = True
        return changed

    def guided(self, a: int, b: int, factor: float) -> PairFit:
        """A refused pair searched again near the series' factor and anchor (a weak link if found)."""
        again = register_pair(self.images[a], self.images[b], factor, (self.names[a], self.names[b]),
                              RETRY_SPAN, GUIDED, 0.1, self.anchor)
        if again.ok:
            self.fits[(a, b)] = replace(again, guided=True)
        return self.fits[(a, b)]


def same_step(z1: float, z2: float) -> bool:
    """Whether two zooms into one image are the same step (variants), judged on the step's size."""
    step = math.log(max(min(z1, z2), ZOOMS[0]))
    return abs(math.log(z1 / z2)) < SAME_STEP * step


def _all_options(evidence: Evidence, alive: list[int]) -> dict[int, list[int]]:
    with cf.ThreadPoolExecutor(THREADS, thread_name_prefix="everzoom-sort") as pool:
        return dict(zip(alive, pool.map(lambda a: evidence.options(a, alive), alive)))


class _Groups:
    """Union-find over images at the same step."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def root(self, a: int) -> int:
        while self.parent.get(a, a) != a:
            a = self.parent[a]
        return a

    def join(self, a: int, b: int) -> None:
        self.parent[self.root(a)] = self.root(b)

    def members(self, keys) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for k in keys:
            out.setdefault(self.root(k), []).append(k)
        return [sorted(g) for g in out.values() if len(g) > 1]


def _variant_groups(options: dict[int, list[int]], evidence: Evidence) -> list[list[int]]:
    """Images at the same step: two nearest outer images of one image, or two images sitting in
    one outer image at the same zoom."""
    groups = _Groups()
    preds: dict[int, list[int]] = {}
    for a, found in options.items():
        for b in found[1:]:
            groups.join(found[0], b)
        for b in found:
            preds.setdefault(b, []).append(a)
    for b, inner in preds.items():
        for i, a1 in enumerate(inner):
            for a2 in inner[i + 1:]:
                if same_step(evidence.fits[(a1, b)].zoom, evidence.fits[(a2, b)].zoom):
                    groups.join(a1, a2)
    return groups.members(set(options) | set(preds))


def _keep_one(group: list[int], options: dict[int, list[int]], evidence: Evidence, sorting: Sorting) -> int:
    """The variant whose surroundings agree best with the next, outer image (its confirmed link
    outwards), else whose centre agrees best with the image inside it."""
    names = evidence.names
    outward = {v: max((evidence.fits[(v, b)].confidence for b in options.get(v, [])), default=None) for v in group}
    if any(c is not None for c in outward.values()):
        merit = {v: c if c is not None else -1.0 for v, c in outward.items()}
        why = "its surroundings agree less with the image around it"
    else:
        merit = {v: max((f.confidence for (a, b), f in evidence.fits.items() if b == v and f.ok), default=-1.0)
                 for v in group}
        why = "the image inside it fits it less well"
    ranked = sorted(group, key=lambda v: merit[v], reverse=True)
    keep = ranked[0]
    for v in ranked[1:]:
        sorting.left_out[names[v]] = f"another variant of the same step as {names[keep]} ({why})"
        if merit[keep] - merit[v] < TIE:
            sorting.problems.append(f"{names[keep]} and {names[v]} are variants of the same step and nothing "
                                    f"tells which belongs (kept {names[keep]}): remove one, or pass --force")
    return keep


def _resolve(options: dict[int, list[int]], evidence: Evidence, sorting: Sorting) -> dict[int, int]:
    """Each image's one successor, variants settled and skipped steps filled in."""
    for group in _variant_groups(options, evidence):
        keep = _keep_one(group, options, evidence, sorting)
        for v in group:
            if v == keep:
                continue
            options.pop(v, None)
            for a, found in options.items():
                if v in found:
                    found.remove(v)
                    if not found and a != keep and evidence.verify(a, keep, evidence.fits[(a, v)].zoom).ok:
                        found.append(keep)
    succ = {a: found[0] for a, found in options.items() if found}
    for _ in range(len(succ)):
        preds: dict[int, list[int]] = {}
        for a, b in succ.items():
            preds.setdefault(b, []).append(a)
        clash = next(((b, inner) for b, inner in preds.items() if len(inner) > 1), None)
        if clash is None:
            break
        b, inner = clash
        near, far = sorted(inner, key=lambda a: evidence.fits[(a, b)].zoom)[:2]
        between = evidence.fits[(far, b)].zoom / evidence.fits[(near, b)].zoom  # where far must sit in near
        if evidence.verify(far, near, between).ok or evidence.guided(far, near, between).ok:
            succ[far] = near
        else:
            del succ[far]
            n = evidence.names
            sorting.problems.append(f"{n[far]} and {n[near]} both sit directly inside {n[b]}, but not one inside "
                                    f"the other: which belongs there is not clear")
    return succ


def _rotated(cycle: list[int], names: list[str]) -> list[int]:
    """The rotation of a closed loop whose order agrees best with the file names (either way)."""
    rank = {k: r for r, k in enumerate(sorted(cycle, key=lambda k: natural_key(names[k])))}

    def agreement(r: int) -> float:
        """|Kendall's tau| of the rotation starting at r against the names' order."""
        ranks = np.array([rank[k] for k in cycle[r:] + cycle[:r]])
        return abs(float(np.sign(np.subtract.outer(ranks, ranks))[np.triu_indices(len(ranks), 1)].mean()))
    best = max(range(len(cycle)), key=agreement)
    return cycle[best:] + cycle[:best]


def _chains(succ: dict[int, int], evidence: Evidence) -> list[list[int]]:
    """The chains the successors make, innermost first (a loop turned to agree with the names)."""
    preds = set(succ.values())
    out, seen = [], set()
    for start in sorted(set(succ) - preds):
        chain = [start]
        while chain[-1] in succ and succ[chain[-1]] not in seen and succ[chain[-1]] not in chain:
            chain.append(succ[chain[-1]])
        seen.update(chain)
        out.append(chain)
    for start in sorted(set(succ) - seen):  # what is left has a predecessor everywhere: loops
        if start in seen:
            continue
        cycle = [start]
        while succ[cycle[-1]] != start:
            cycle.append(succ[cycle[-1]])
        seen |= set(cycle)
        out.append(_rotated(cycle, evidence.names))
    return out


def _closing(chain: list[int], evidence: Evidence) -> PairFit | None:
    """The link that closes a chain into a loop: its outermost image inside its innermost (a
    loop found as successors has it confirmed already; else registered at any zoom)."""
    fit = evidence.verify(chain[-1], chain[0], everywhere=True)
    return fit if fit.ok else None


def _describe(chain: list[int], closing: PairFit | None, evidence: Evidence, sorting: Sorting) -> Chain:
    names, fits = evidence.names, evidence.fits
    links = [Link.of(fits[(a, b)], float(evidence.score[a, b])) for a, b in zip(chain, chain[1:])]
    common = float(np.exp(np.median(np.log([link.zoom for link in links]))))
    for link in links:
        if link.weak:
            sorting.problems.append(f"{link.inner} inside {link.outer} is a weak link: it matches (confidence "
                                    f"{link.confidence:.2f}) only when searched near the series' factor and spot")
        if abs(math.log(link.zoom / common)) > GAP:
            sorting.notes.append(f"{link.inner} sits inside {link.outer} at zoom {link.zoom:.3f}, against the "
                                 f"series' {common:.3f}" + (" (an image missing between them?)"
                                                            if link.zoom > common ** 1.5 else ""))
    loop = Link.of(closing, float(evidence.score[chain[-1], chain[0]])) if closing else None
    return Chain([names[k] for k in chain], links, loop)


def sort_images(images: list[np.ndarray], names: list[str],
                progress: Callable[[int, int], None] | None = None) -> Sorting:
    """Order the images innermost first in chains proven by registration; leave out (and say
    why) those that do not belong."""
    if len(images) != len(names):
        raise ValueError("one name per image")
    sorting = Sorting([], {}, [], images=dict(zip(names, images)))
    t0 = time.perf_counter()
    same = duplicates(images)
    alive = list(range(len(images)))
    for a in range(len(images)):
        twin = next((b for b in range(a) if b in alive and same[a, b] >= DUPLICATE), None)
        if twin is not None:
            alive.remove(a)
            sorting.left_out[names[a]] = f"a duplicate of {names[twin]}"
    sorting.timings["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    score, zoom = containment(images, progress=progress)
    sorting.timings["pair_scores"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    evidence = Evidence(images, names, score, zoom)
    options = _all_options(evidence, alive)
    if evidence.judge_again():
        options = _all_options(evidence, alive)
    _guided_pass(options, evidence, alive)
    sorting.timings["confirm"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    succ = _resolve(options, evidence, sorting)
    for chain in _chains(succ, evidence):
        sorting.chains.append(_describe(chain, _closing(chain, evidence), evidence, sorting))
    sorting.chains.sort(key=lambda c: len(c.order), reverse=True)
    placed = {n for c in sorting.chains for n in c.order}
    for k in alive:
        if names[k] not in placed and names[k] not in sorting.left_out:
            sorting.left_out[names[k]] = ("does not fit inside or around any other image at a zoom between "
                                          f"{ZOOMS[0]} and {ZOOMS[1]}: an unrelated picture?")
    sorting.timings["ordering"] = time.perf_counter() - t0
    return sorting


def _guided_pass(options: dict[int, list[int]], evidence: Evidence, alive: list[int]) -> None:
    """Images left without an outer image whose strongest candidate was refused: that pair
    searched again near the series' factor (a weak link if it is found)."""
    confirmed = [f.zoom for f in evidence.fits.values() if f.ok]
    if not confirmed:
        return
    factor = float(np.exp(np.median(np.log(confirmed))))
    for a in alive:
        if options[a]:
            continue
        strong = [b for b in evidence.candidates(a, alive) if evidence.score[a, b] >= STRONG
                  and abs(math.log(evidence.zoom[a, b] / factor)) < math.log(1 + SAME_STEP)]
        for b in strong[:1]:
            if evidence.guided(a, b, factor).ok:
                options[a] = [b]

