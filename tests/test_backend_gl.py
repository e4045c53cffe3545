"""The ``gl`` backend (fragment-shader ping-pong) against the uint8 reference, bit for bit.

Tests that need an OpenGL 3.3 context are marked ``hardware`` and get it from
:func:`tests.helpers.open_gl_context`: without one they skip on a user's machine and fail under CI
(``CI=true``), where a missing GL is a broken runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest

import game.glcontext as glcontext
from game.backends.base import LifeBackend
from game.backends.gl import GlBackend
from game.backends.reference import ReferenceBackend, reference_step
from game.cells import Cells
from game.errors import BackendUnavailable, BadInput
from game.rules import CONWAY, Rule, parse_rule
from tests.helpers import open_gl_context

if TYPE_CHECKING:
    import moderngl

MakeBackend = Callable[[Rule, tuple[int, int]], GlBackend]

GLIDER = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.uint8)


@pytest.fixture(scope="module")
def gl_ctx() -> Iterator[moderngl.Context]:
    # One context for the module: creating an EGL context costs tens of milliseconds.
    ctx = open_gl_context()
    yield ctx
    ctx.release()


@pytest.fixture
def make_backend(gl_ctx: moderngl.Context) -> Iterator[MakeBackend]:
    made: list[GlBackend] = []

    def make(rule: Rule, shape: tuple[int, int]) -> GlBackend:
        backend = GlBackend(rule, shape, ctx=gl_ctx)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def soup(shape: tuple[int, int], seed: int, density: float = 0.35) -> Cells:
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < density).astype(np.uint8)


def run_and_compare(
    backend: GlBackend, cells: Cells, rule: Rule, generations: int, every: int
) -> None:
    backend.set_cells(cells)
    expected = cells.copy()
    done = 0
    while done < generations:
        chunk = min(every, generations - done)
        for _ in range(chunk):
            expected = reference_step(expected, rule)
        backend.step(chunk)
        done += chunk
        got = backend.get_cells()
        if not np.array_equal(got, expected):
            diff = np.argwhere(got != expected)
            raise AssertionError(
                f"{rule} {cells.shape}: diverged by generation {done}, {len(diff)} cells differ,"
                f" first at (y, x)={tuple(diff[0])}"
            )


# --- pure helpers: no GL needed ----------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("renderer", "software"),
    [
        ("llvmpipe (LLVM 15.0.6, 256 bits)", True),
        ("softpipe", True),
        ("Mesa X11 swrast", True),
        ("Apple Software Renderer", True),
        ("NVIDIA GeForce RTX 4090/PCIe/SSE2", False),
        ("Apple M2 Pro", False),
        ("AMD Radeon RX 7900 XTX (radeonsi, navi31, LLVM 17.0.6, DRM 3.57)", False),
        ("Mesa Intel(R) UHD Graphics 620 (KBL GT2)", False),
        ("", False),
    ],
)
def test_is_software_renderer(renderer: str, software: bool) -> None:
    assert glcontext.is_software_renderer({"GL_RENDERER": renderer}) is software


@pytest.mark.unit
def test_create_headless_context_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import moderngl  # a dependency of the project: its absence is a broken install, not a skip
    calls: list[dict[str, object]] = []

    def refuse(**kwargs: object) -> None:
        calls.append(kwargs)
        raise Exception("eglInitialize failed\n  (0x3001)")

    monkeypatch.setattr(moderngl, "create_standalone_context", refuse)
    with pytest.raises(BackendUnavailable) as info:
        glcontext.create_headless_context()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("OpenGL 3.3 is not available (EGL: eglInitialize failed (0x3001);")
    assert "default:" in message
    assert isinstance(info.value, BadInput)  # the CLI prints it as one line and exits 2
    assert calls[0] == {"require": 330, "backend": "egl"}
    assert calls[1] == {"require": 330}


@pytest.mark.unit
def test_probe_is_false_without_gl(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise BackendUnavailable("OpenGL 3.3 is not available (EGL: nope; default: nope)")

    monkeypatch.setattr(glcontext, "create_headless_context", refuse)
    assert glcontext.probe_hardware_gl() is False


@pytest.mark.unit
@pytest.mark.parametrize("ci", ["true", None])
def test_missing_gl_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    def refuse() -> None:
        raise BackendUnavailable("OpenGL 3.3 is not available (EGL: nope; default: nope)")

    monkeypatch.setattr(glcontext, "create_headless_context", refuse)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match="nope"):
            open_gl_context()
    else:
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match="CI=true but no OpenGL 3.3 context.*nope"):
            open_gl_context()


# --- GL ------------------------------------------------------------------------------------------


@pytest.mark.hardware
def test_context_info_and_probe(gl_ctx: moderngl.Context) -> None:
    info = glcontext.renderer_info(gl_ctx)
    assert set(info) == {"GL_RENDERER", "GL_VENDOR", "GL_VERSION"}
    assert all(isinstance(v, str) and v for v in info.values())
    assert gl_ctx.version_code >= 330
    assert glcontext.probe_hardware_gl() is (not glcontext.is_software_renderer(info))


@pytest.mark.hardware
def test_probe_leaves_the_callers_context_current(gl_ctx: moderngl.Context) -> None:
    # A viewer calls the "auto" probe with its window context current; drawing must still work
    # afterwards without re-entering the context.
    with gl_ctx:
        tex = gl_ctx.texture((3, 2), 1, data=bytes(range(6)), dtype="u1")
        try:
            glcontext.probe_hardware_gl()
            assert tex.read() == bytes(range(6))
        finally:
            tex.release()


@pytest.mark.hardware
def test_is_a_life_backend(make_backend: MakeBackend) -> None:
    backend = make_backend(CONWAY, (8, 8))
    assert isinstance(backend, LifeBackend)
    assert backend.name == "gl"
    assert backend.shape == (8, 8)
    assert backend.rule == CONWAY


@pytest.mark.hardware
@pytest.mark.parametrize("shape", [(80, 80), (100, 37), (37, 100), (70, 130), (64, 64)])
def test_conway_soup_matches_reference_1000_generations(
    make_backend: MakeBackend, shape: tuple[int, int]
) -> None:
    backend = make_backend(CONWAY, shape)
    run_and_compare(backend, soup(shape, seed=sum(shape)), CONWAY, generations=1000, every=50)


@pytest.mark.hardware
@pytest.mark.parametrize(
    "rule_text",
    [
        "B36/S23",  # HighLife
        "B2/S",  # Seeds: no survival at all
        "B3678/S34678",  # Day & Night: uses 8 neighbours
        "B0123478/S01234678",  # B0 and S8: every dead cell with 0 neighbours is born
        "B1357/S1357",  # Replicator: B1, odd counts
        "B012345678/S",  # strobes between full and empty
        "B/S012345678",  # still life everywhere
    ],
)
def test_other_rules_match_reference(make_backend: MakeBackend, rule_text: str) -> None:
    rule = parse_rule(rule_text)
    shape = (37, 100)
    backend = make_backend(rule, shape)
    run_and_compare(backend, soup(shape, seed=len(rule_text)), rule, generations=300, every=50)


@pytest.mark.hardware
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (2, 2), (2, 3), (3, 2), (3, 3), (7, 4)])
def test_degenerate_tori_match_reference_every_generation(
    make_backend: MakeBackend, shape: tuple[int, int]
) -> None:
    # On sides of 1 or 2 a neighbour offset wraps onto the same cell (or the cell itself) more
    # than once; np.roll counts it each time and so must the shader. Random rules keep the
    # tiny lattices from simply dying out.
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    for trial in range(6):
        birth = frozenset(int(k) for k in np.flatnonzero(rng.random(9) < 0.5))
        survive = frozenset(int(k) for k in np.flatnonzero(rng.random(9) < 0.5))
        rule = Rule(birth, survive)
        backend = make_backend(rule, shape)
        run_and_compare(backend, soup(shape, seed=trial, density=0.5), rule, 20, every=1)


@pytest.mark.hardware
def test_glider_returns_home_on_16x16_torus(make_backend: MakeBackend) -> None:
    start = np.zeros((16, 16), dtype=np.uint8)
    start[5:8, 5:8] = GLIDER
    backend = make_backend(CONWAY, (16, 16))
    backend.set_cells(start)
    backend.step(4)
    # A glider moves one cell down and one right every 4 generations (y grows downwards).
    assert np.array_equal(backend.get_cells(), np.roll(start, (1, 1), axis=(0, 1)))
    backend.step(60)
    assert np.array_equal(backend.get_cells(), start)
    assert backend.population() == 5


@pytest.mark.hardware
def test_births_match_reference(make_backend: MakeBackend) -> None:
    shape = (37, 100)
    cells = soup(shape, seed=7)
    gl = make_backend(CONWAY, shape)
    ref = ReferenceBackend(CONWAY, shape)
    gl.set_cells(cells)
    ref.set_cells(cells)
    assert not gl.births().any()  # nothing was born before the first step
    for generations in (1, 1, 3, 10, 1):
        gl.step(generations)
        ref.step(generations)
        assert np.array_equal(gl.births(), ref.births())
    assert gl.births().any()
    gl.set_cells(cells)  # a new lattice has no history
    assert not gl.births().any()
    births = gl.births()
    assert births.dtype == np.uint8 and births.shape == shape


@pytest.mark.hardware
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (37, 100), (61, 77), (128, 64)])
def test_set_get_round_trip(make_backend: MakeBackend, shape: tuple[int, int]) -> None:
    backend = make_backend(CONWAY, shape)
    cells = soup(shape, seed=3, density=0.5)
    backend.set_cells(cells)
    got = backend.get_cells()
    assert got.dtype == np.uint8 and got.shape == shape
    assert np.array_equal(got, cells)
    got[...] = 1  # a fresh copy: writing it must not touch the lattice
    assert np.array_equal(backend.get_cells(), cells)
    assert backend.population() == int(cells.sum())


@pytest.mark.hardware
def test_set_cells_normalises_and_checks_shape(make_backend: MakeBackend) -> None:
    backend = make_backend(CONWAY, (4, 6))
    cells = np.zeros((4, 6), dtype=np.int64)
    cells[1, 2] = 7
    cells[3, 5] = -1
    backend.set_cells(cells)  # type: ignore[arg-type]
    expected = np.zeros((4, 6), dtype=np.uint8)
    expected[1, 2] = expected[3, 5] = 1
    assert np.array_equal(backend.get_cells(), expected)
    with pytest.raises(ValueError, match="shape"):
        backend.set_cells(np.zeros((6, 4), dtype=np.uint8))


@pytest.mark.hardware
def test_population_follows_the_reference(make_backend: MakeBackend) -> None:
    shape = (80, 80)
    backend = make_backend(CONWAY, shape)
    assert backend.population() == 0
    cells = soup(shape, seed=11)
    backend.set_cells(cells)
    assert backend.population() == int(cells.sum())
    for _ in range(25):
        cells = reference_step(cells, CONWAY)
    backend.step(25)
    assert backend.population() == int(cells.sum())


@pytest.mark.hardware
def test_step_zero_and_negative(make_backend: MakeBackend) -> None:
    backend = make_backend(CONWAY, (16, 16))
    start = np.zeros((16, 16), dtype=np.uint8)
    start[5:8, 5:8] = GLIDER
    backend.set_cells(start)
    backend.step(0)
    assert np.array_equal(backend.get_cells(), start)
    assert not backend.births().any()
    with pytest.raises(ValueError):
        backend.step(-1)


@pytest.mark.hardware
def test_current_texture_holds_the_live_state(
    gl_ctx: moderngl.Context, make_backend: MakeBackend
) -> None:
    shape = (37, 100)
    backend = make_backend(CONWAY, shape)
    backend.set_cells(soup(shape, seed=5))
    for generations in (1, 2):  # both ping-pong parities
        backend.step(generations)
        tex = backend.current_texture
        assert tex.size == (100, 37)
        assert tex.components == 1 and tex.dtype == "u1"
        with gl_ctx:  # a viewer draws it with its own context current
            raw = np.frombuffer(tex.read(alignment=1), dtype=np.uint8).reshape(shape)
        assert np.array_equal(raw, backend.get_cells())


@pytest.mark.hardware
def test_rule_change_takes_effect_on_next_step(make_backend: MakeBackend) -> None:
    shape = (20, 30)
    cells = soup(shape, seed=2)
    backend = make_backend(CONWAY, shape)
    backend.set_cells(cells)
    backend.step(3)
    highlife = parse_rule("B36/S23")
    backend.rule = highlife
    backend.step(3)
    expected = cells
    for rule in (CONWAY,) * 3 + (highlife,) * 3:
        expected = reference_step(expected, rule)
    assert np.array_equal(backend.get_cells(), expected)


@pytest.mark.hardware
def test_owned_contexts_interleave_and_close(gl_ctx: moderngl.Context) -> None:
    # Two backends with their own contexts, stepped alternately: each must make its own context
    # current, since GL object names mean nothing in another context.
    shape_a, shape_b = (33, 47), (50, 21)
    a = GlBackend(CONWAY, shape_a)
    b = GlBackend(parse_rule("B36/S23"), shape_b)
    try:
        cells_a, cells_b = soup(shape_a, seed=1), soup(shape_b, seed=2)
        a.set_cells(cells_a)
        b.set_cells(cells_b)
        for _ in range(10):
            a.step(3)
            b.step(2)
            cells_a = reference_step(
                reference_step(reference_step(cells_a, a.rule), a.rule), a.rule
            )
            cells_b = reference_step(reference_step(cells_b, b.rule), b.rule)
        assert np.array_equal(a.get_cells(), cells_a)
        assert np.array_equal(b.get_cells(), cells_b)
    finally:
        a.close()
        b.close()
    a.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        a.step()
    with pytest.raises(RuntimeError, match="closed"):
        a.get_cells()
    # The shared fixture context is untouched by closing backends that owned their own.
    shared = GlBackend(CONWAY, (8, 8), ctx=gl_ctx)
    shared.set_cells(np.ones((8, 8), dtype=np.uint8))
    assert shared.population() == 64
    shared.close()


@pytest.mark.hardware
def test_rejects_bad_shapes(gl_ctx: moderngl.Context) -> None:
    with pytest.raises(ValueError):
        GlBackend(CONWAY, (0, 5), ctx=gl_ctx)
    limit = int(gl_ctx.info["GL_MAX_TEXTURE_SIZE"])
    with pytest.raises(BackendUnavailable, match="texture limit"):
        GlBackend(CONWAY, (4, limit + 1), ctx=gl_ctx)


@pytest.mark.hardware
def test_shared_context_state_left_by_a_viewer_does_not_matter(
    gl_ctx: moderngl.Context, make_backend: MakeBackend
) -> None:
    # A viewer sharing the context leaves its own render state behind between ticks.
    import moderngl

    shape = (37, 100)
    cells = soup(shape, seed=9)
    backend = make_backend(CONWAY, shape)
    backend.set_cells(cells)
    with gl_ctx:
        gl_ctx.enable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        gl_ctx.viewport = (0, 0, 7, 5)
    try:
        backend.step(5)
    finally:
        with gl_ctx:
            gl_ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
    for _ in range(5):
        cells = reference_step(cells, CONWAY)
    assert np.array_equal(backend.get_cells(), cells)
