"""Seconds per iteration of every training loop of the compendium, at one profile and device.

    python bench/bench_iterations.py --profile paper --device cuda [--loops pde_symmetries,...]
        [--iterations 3] [--out results/bench/iterations_<profile>_<device>.json]   # make bench-iterations

Loops (their settings come from symflow.profiles):
    pde_symmetries      notebook 02: pde_learning.train for one iteration on KdV
    pde_symmetries_weno the same with the paper's derivatives (learn["method"] = "weno": WENO-
                        weighted local least-squares fits) instead of the curvilinear chain rule
    pde_augmentation    notebook 03: one fno.fit step (AdamW) of one FNO on a batch of KdV windows
                        drawn from a pool with the profile's number of copies per trajectory
    pde_augmentation_ensemble  the same step for one ensemble of 3 x seeds FNOs (every
                        augmentation and seed of a size, as notebook 03 trains them); its s/it
                        is per member-step, so the ratio to pde_augmentation is the speed-up
    image_extractor     notebook 04: one SGD step of images.train_classifier (SmallCNN / ResNet18)
    image_symmetries    notebook 04: one iteration of image_symmetries.learn_symmetries
    image_augmentation  notebook 05: one SGD step of images.train_classifier with the flow
                        augmentation along the first n_fields of a generator field

No real data set is needed. KdV trajectories come from data/<profile>/KdV_train.nc when it
exists (else, or with --synthetic, synthetic ones of the same shape); images are random, of
the profile's data set's shape. The cost of an iteration does not depend on the values, so
untrained networks stand in for notebook 04's extractor and learned fields, and a pool's
copies are views of the originals. Every loop calls the library's training function for one
iteration (one batch; notebook 03: PER_CALL steps, the time divided by them and by the members),
so a fresh optimiser per call is included in its time. Notebook 02's loops time the iteration as `pde_learning.train`
records it (patches, loss, backward, Adam step), leaving out each call's set-up (a new field and,
with learn["inner"] = "data", the inner product drawn from the whole training set), which a
notebook run pays once. Learning-rate schedules and the Sobolev term (the last 10% of a
notebook-02 run) are left out.

The first iteration is reported apart (warm-up: allocations, lazy initialisation); s/it is the
median of the others, CUDA synchronised around each. Each loop runs in a fresh process, so its
peak memory is its own: torch.cuda.max_memory_allocated on CUDA; on the CPU the process's peak
RSS (getrusage), imports and setup included.
Projected time = s/it x the iterations of the profile's schedule (what is counted is stated per
loop). A loop that fails (e.g. out of memory) records its error; the others still run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import math
import multiprocessing
import resource
import statistics
import time

import torch
import xarray as xr

from symflow import generators, io, profiles
from symflow.image import image_augmentation as img_augmentation  # the loop functions below hold the plain names
from symflow.image import image_symmetries as img_symmetries
from symflow.image import images
from symflow.pde import fno, pde_learning, pdes, solvers

IMAGE_SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
TRAIN_IMAGES = {"mnist": 4000, "cifar10": 50000}  # training images of images.load_dataset
PER_CALL = 10  # FNO steps per timed call (the time is divided by it, and by the ensemble's members)


@functools.cache
def kdv_data(profile: str, synthetic: bool) -> tuple[xr.Dataset, str]:
    """(KdV training trajectories u (sample, t, x), their source).

    data/<profile>/KdV_train.nc unless `synthetic` or missing; else as many trajectories as the
    profile's training split, each a sum of travelling linear-KdV waves sin(k x + k^3 t + phase)
    (u_t + u_xxx = 0) with the amplitudes, wavenumbers and phases of KdV's random initial
    conditions, on its grid and kept times.
    """
    path = solvers.data_path("KdV", "train", profile)
    if path.exists() and not synthetic:
        return solvers.dataset("KdV", "train", profile), str(path.relative_to(io.REPO))
    eq, d = pdes.get("KdV"), profiles.get(profile, "pde_data")
    n, nx = d["sizes"]["train"], d["nx"]
    _, p = eq.initial_condition(n, torch.Generator().manual_seed(0), nx)
    x, t = eq.grid(nx), eq.kept_times()
    u = torch.zeros(n, len(t), nx, dtype=torch.float64)
    for j in range(eq.n_sines):
        k = (2 * math.pi * p["wavenumber"][:, j] / eq.L)[:, None, None]
        u += p["amplitude"][:, j, None, None] * torch.sin(k * x + k**3 * t[:, None] + p["phase"][:, j, None, None])
    ds = xr.Dataset({"u": (("sample", "t", "x"), u.numpy())}, coords={"t": t.numpy(), "x": x.numpy()})
    return ds, "synthetic"


def random_images(dataset: str, n: int, crop: int | None = None) -> images.ImageData:
    """n random images of the data set's shape (its central crop x crop pixels, as the profile
    cuts them; None: whole), with random labels of its 10 classes."""
    g = torch.Generator().manual_seed(0)
    c, h, w = IMAGE_SHAPES[dataset]
    h, w = (h, w) if crop is None else (crop, crop)
    x, y = torch.rand(n, c, h, w, generator=g), torch.randint(10, (n,), generator=g)
    return images.ImageData(dataset, x, y, x, y, [str(c) for c in range(10)])


def pde_symmetries(profile, device, synthetic, method=None):
    """Notebook 02 (KdV): pde_learning.train for one iteration (field, Adam and inner product set
    up anew, but only the iteration timed: `self_timed`); `method` overrides the derivative estimator."""
    P = profiles.get(profile, "pde_symmetries")
    learn, eq = {**P["learn"], "iterations": 1, "method": method or P["learn"]["method"]}, pdes.get("KdV")
    graphs = pde_learning.graphs_of(eq, kdv_data(profile, synthetic)[0]).to(device)

    def step():
        return pde_learning.train(eq, graphs, learn, log=lambda line: None, device=device)[1].seconds.iloc[-1]

    settings = {"equations": P["equations"], **P["learn"], "method": learn["method"]}
    return {
        "notebook": "02_pde_symmetries",
        "settings": settings,
        "self_timed": True,
        "step": step,
        "schedule": (
            P["learn"]["iterations"] * len(P["equations"]),
            "learn.iterations x equations, seed 0; KdV's s/it for every equation",
        ),
    }


def pde_augmentation(profile, device, synthetic, members: int = 1):
    """Notebook 03 (KdV): one fno.fit training step (fno.draw_batch + fno.train_step) of an
    ensemble of `members` FNOs on the largest training set; the time is per member-step."""
    p = profiles.get(profile, "pde_augmentation")
    f, k = p["fit"], p["augment"]["n_copies"]
    u = kdv_data(profile, synthetic)[0].u.values[: max(p["sizes"]), :, :: p["x_stride"]]
    u = torch.tensor(u * pdes.get("KdV").c, dtype=torch.float32)
    n, nt = u.shape[:2]
    pool = fno.TrajectoryPool(
        u[:, None].expand(-1, 1 + k, -1, -1),
        torch.tensor([0, nt]).expand(n, 1 + k, 2),
        torch.ones(n, 1 + k, dtype=torch.bool),
    )
    task = fno.bundled(20)
    model = fno.seeded(list(range(members)), task.n_in, task.n_out, **p["fno"]).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=f["lr"], weight_decay=f["weight_decay"])
    orders = [torch.empty(0, dtype=torch.long) for _ in range(members)]
    draws = [torch.Generator().manual_seed(e) for e in range(members)]

    def step():
        for _ in range(PER_CALL):
            inputs, targets = fno.draw_batch([pool] * members, orders, draws, min(f["batch"], n), task, f["p_original"])
            loss = fno.train_step(model, optimiser, inputs, targets, device)
        return float(loss.sum())

    budget = min(
        f["max_epochs"] * fno.steps_per_epoch(max(p["sizes"]), nt, task, f["batch"]), f["max_steps"] or math.inf
    )
    runs = len(p["equations"]) * len(p["sizes"]) * 3 * len(p["seeds"])
    return {
        "notebook": "03_pde_augmentation",
        "settings": {
            **{key: p[key] for key in ("equations", "sizes", "seeds", "x_stride", "fno", "fit")},
            "n_copies": k,
            "members": members,
        },
        "step": step,
        "per_call": PER_CALL * members,
        "schedule": (
            budget * runs,
            f"the largest size's step budget x {runs} main runs (equations x "
            "sizes x none/known/learned x seeds), as member-steps; early stopping, the "
            "sweep, copies and evaluation not counted",
        ),
    }


def pde_augmentation_ensemble(profile, device, synthetic):
    """`pde_augmentation` with one ensemble of every (augmentation, seed) of a size (3 x seeds
    members), as notebook 03 trains them; compare its s/it (per member-step) with the single model's."""
    return pde_augmentation(
        profile, device, synthetic, members=3 * len(profiles.get(profile, "pde_augmentation")["seeds"])
    )


def image_extractor(profile, device, synthetic):
    """Notebook 04: images.train_classifier for one epoch of exactly one batch."""
    P = profiles.get(profile, "image_symmetries")
    ex, name = P["extractor"], P["dataset"]
    data = random_images(name, ex["batch_size"], P["crop"])
    model = images.make_classifier(ex["arch"], data, ex["width"]).to(device)
    x, y = data.train_x.to(device), data.train_y.to(device)
    one_epoch = dataclasses.replace(images.ClassifierTraining.from_settings(ex), epochs=1)

    def step():
        return images.train_classifier(model, x, y, one_epoch, log=None)["loss"][0]

    per_epoch = math.ceil((P["n_train"] or TRAIN_IMAGES[name]) / ex["batch_size"])
    return {
        "notebook": "04_image_symmetries",
        "settings": {"dataset": name, "n_train": P["n_train"], **ex},
        "step": step,
        "schedule": (ex["epochs"] * per_epoch, f"epochs x {per_epoch} batches per epoch"),
    }


def image_symmetries(profile, device, synthetic):
    """Notebook 04: image_symmetries.learn_symmetries for one iteration (untrained extractor, uniform w(p))."""
    P = profiles.get(profile, "image_symmetries")
    ex, L = P["extractor"], P["learn"]
    data = random_images(P["dataset"], L["batch_size"], P["crop"])
    _, h, w = data.shape
    features = images.frozen_features(images.make_classifier(ex["arch"], data, ex["width"]).to(device))
    inner = img_symmetries.image_inner_product(torch.ones(h * w, device=device), h, w)
    field = generators.GeneratorField(2, L["n_generators"]).to(device)
    x = data.train_x.to(device)
    one_iteration = dataclasses.replace(img_symmetries.ImageLearning.from_settings(L), iterations=1)

    def step():
        return img_symmetries.learn_symmetries(features, x, field, inner, one_iteration, log=None)["loss"][0]

    return {
        "notebook": "04_image_symmetries",
        "settings": {"dataset": P["dataset"], "arch": ex["arch"], "width": ex["width"], **L},
        "step": step,
        "schedule": (2 * L["iterations"], "learn.iterations x 2 (the paper start and the non-affine start), seed 0"),
    }


def image_augmentation(profile, device, synthetic):
    """Notebook 05: images.train_classifier for one batch with the learned-flow augmentation."""
    p = profiles.get(profile, "image_augmentation")
    n_generators = profiles.get(profile, "image_symmetries")["learn"]["n_generators"]
    data = random_images(p["dataset"], p["batch_size"], p["crop"])
    _, h, w = data.shape
    inner = img_symmetries.image_inner_product(torch.ones(h * w), h, w)
    learned = generators.normalise(generators.GeneratorField(2, n_generators), inner)
    first_k = img_symmetries.linear_combination(torch.eye(n_generators)[:, : p["n_fields"]], learned)
    augment = img_augmentation.make_augmentation("flow", data.shape, first_k, scale=p["scale"], steps=p["steps"])
    model = images.make_classifier(p["arch"], data, p["width"]).to(device)
    x, y = data.train_x.to(device), data.train_y.to(device)
    one_epoch = dataclasses.replace(images.ClassifierTraining.from_settings(p), epochs=1)

    def step():
        return images.train_classifier(model, x, y, one_epoch, augment=augment, log=None)["loss"][0]

    n_train = 10 * p["train_per_class"] if p["train_per_class"] else TRAIN_IMAGES[p["dataset"]]
    per_epoch = math.ceil(n_train / p["batch_size"])
    return {
        "notebook": "05_image_augmentation",
        "settings": p,
        "step": step,
        "schedule": (
            p["epochs"] * per_epoch * len(p["seeds"]),
            f"epochs x {per_epoch} batches x seeds, learned-augmentation runs only (the notebook "
            "also trains none, default and affine runs; affine costs about as much)",
        ),
    }


def pde_symmetries_weno(profile, device, synthetic):
    """Notebook 02 (KdV) with the paper's WENO-weighted local fits as the derivative estimator."""
    return pde_symmetries(profile, device, synthetic, method="weno")


def time_to_acceptance(
    profile: str, device: str, every: int, threads: int | None = None, equation: str = "KdV", seed: int = 0
) -> dict:
    """Notebook 02's run of `equation` seed `seed` at the profile's settings, judged as the notebook
    judges it (`pde_learning.judge`: test patches, evaluation inner product, acceptance checks)
    after every `every` iterations, and stopped at the first judgement that passes every check.

    Needs the profile's data sets (data/<profile>/<equation>_{train,test}.nc). Returns the
    judgements (iteration, checks passed, training seconds so far: the history's own seconds,
    judging excluded) and the first passing iteration and its training seconds (None if the
    schedule ends first).
    """
    if threads:
        torch.set_num_threads(threads)
    P = profiles.get(profile, "pde_symmetries")
    learn, ev = {**P["learn"], "checkpoint_every": 10**9}, P["evaluate"]
    eq = pdes.get(equation)
    graphs = pde_learning.graphs_of(eq, solvers.dataset(equation, "train", profile, device=device))
    patches, inner = pde_learning.evaluation_set(eq, profile, ev, device)
    untrained = pde_learning.new_field(learn, seed)
    judgements = []
    start = time.perf_counter()

    def judge(iteration, field):
        _, _, checks = pde_learning.judge(
            eq,
            field,
            untrained,
            patches,
            inner,
            seed,
            [ev["s_values"][1]],
            steps=ev["steps"],
            method=learn["method"],
            row_order=learn["row_order"],
        )
        judgements.append(
            {
                "iteration": iteration,
                "passed": int(checks.passed.sum()),
                "checks": len(checks),
                "failed": checks.check[~checks.passed].tolist(),
            }
        )
        print(
            f"  {equation} seed {seed} after {iteration} iterations: {judgements[-1]['passed']}/{len(checks)} checks",
            flush=True,
        )
        return bool(checks.passed.all())

    _, history = pde_learning.train(
        eq, graphs, learn, seed=seed, log=lambda line: None, device=device, callback=judge, callback_every=every
    )
    cumulative = history.seconds.cumsum().tolist()
    for j in judgements:
        j["training_s"] = cumulative[j["iteration"] - 1]
    first = next((j for j in judgements if j["passed"] == j["checks"]), None)
    return {
        "equation": equation,
        "seed": seed,
        "every": every,
        "schedule_iterations": learn["iterations"],
        "judgements": judgements,
        "passed_at_iteration": first and first["iteration"],
        "training_s_to_pass": first and first["training_s"],
        "s_per_iteration": float(history.seconds.median()),
        "wall_s": time.perf_counter() - start,
    }


LOOPS = {
    f.__name__: f
    for f in (
        pde_symmetries,
        pde_symmetries_weno,
        pde_augmentation,
        pde_augmentation_ensemble,
        image_extractor,
        image_symmetries,
        image_augmentation,
    )
}


def measure(
    loop: str, profile: str, device: str, iterations: int, synthetic: bool = False, threads: int | None = None
) -> dict:
    """Set up `loop` and time `iterations` of its steps: the loop's entry of the JSON."""
    if threads:
        torch.set_num_threads(threads)
    cuda = torch.device(device).type == "cuda"
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    spec = LOOPS[loop](profile, device, synthetic)
    times = []
    for _ in range(iterations):
        sync()
        tic = time.perf_counter()
        own = spec["step"]()
        sync()
        times.append(own if spec.get("self_timed") else (time.perf_counter() - tic) / spec.get("per_call", 1))
    if cuda:
        memory = (
            torch.cuda.max_memory_allocated(device) / 2**20,
            "torch.cuda.max_memory_allocated, reset before the loop's setup",
        )
    else:
        memory = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak RSS (getrusage ru_maxrss) of a fresh process running only this loop, imports included",
        )
    s_it = statistics.median(times[1:])
    n_it, counted = spec["schedule"]
    return {
        "notebook": spec["notebook"],
        "settings": spec["settings"],
        "first_iteration_s": times[0],
        "s_per_iteration": s_it,
        "iteration_s": times,
        "peak_memory_mib": round(memory[0], 1),
        "peak_memory_kind": memory[1],
        "schedule_iterations": n_it,
        "schedule_counted": counted,
        "timed": (
            "the iteration's own seconds as the training function records them, set-up excluded"
            if spec.get("self_timed")
            else "wall time of each call"
        ),
        "projected_s": s_it * n_it,
        "error": None,
    }


def isolated(*args) -> dict:
    """`measure(*args)` in a fresh (spawned) process, so that peak memory is the loop's own."""
    return isolated_call(measure, *args)


def isolated_call(function, *args) -> dict:
    """`function(*args)` in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def duration(seconds: float) -> str:
    """Seconds as '42 s', '12.5 min' or '3.1 h'."""
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.1f} min"
        if seconds < 7200
        else f"{seconds / 3600:.1f} h"
    )


def print_acceptance(result: dict) -> None:
    t = result.get("time_to_acceptance")
    if not t:
        return
    if "error" in t:
        print(f"time to acceptance: FAILED: {t['error'][:200]}")
    elif t["passed_at_iteration"] is None:
        print(
            f"time to acceptance: {t['equation']} seed {t['seed']} did not pass all its checks within "
            f"{t['schedule_iterations']} iterations (judged every {t['every']})"
        )
    else:
        print(
            f"time to acceptance: {t['equation']} seed {t['seed']} passed every check after "
            f"{t['passed_at_iteration']} iterations, {t['training_s_to_pass']:.0f} s of training "
            f"({t['s_per_iteration']:.3f} s/it; judged every {t['every']} iterations)"
        )


def print_table(result: dict) -> None:
    print(f"\n{result['profile']} on {result['device_name']}; s/it = median of iterations 2..{result['iterations']}")
    print(f"{'loop':20s} {'first s':>9s} {'s/it':>9s} {'peak MiB':>9s} {'iterations':>11s} {'projected':>10s}")
    for name, r in result["loops"].items():
        if r["error"]:
            print(f"{name:20s} FAILED: {r['error'][:200]}")
        else:
            print(
                f"{name:20s} {r['first_iteration_s']:9.3f} {r['s_per_iteration']:9.3f} {r['peak_memory_mib']:9.1f} "
                f"{r['schedule_iterations']:11d} {duration(r['projected_s']):>10s}"
            )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=profiles.PROFILES)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--loops", default=",".join(LOOPS), help=f"comma-separated, of {', '.join(LOOPS)}")
    parser.add_argument("--iterations", type=int, default=3, help="timed per loop, the first one as warm-up (>= 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--synthetic", action="store_true", help="synthetic KdV data even if data/<profile> has it")
    parser.add_argument("--out", default=None, help="default results/bench/iterations_<profile>_<device>.json")
    parser.add_argument(
        "--acceptance-every",
        type=int,
        default=None,
        help="judge notebook 02's KdV seed-0 run after every this many iterations until it passes "
        "its acceptance checks (default: learn.iterations / 12; 0: skip; needs make data)",
    )
    args = parser.parse_args(argv)
    loops = args.loops.split(",")
    if unknown := [name for name in loops if name not in LOOPS]:
        parser.error(f"unknown loops {unknown}; choose from {', '.join(LOOPS)}")
    if args.iterations < 2:
        parser.error("--iterations must be at least 2 (the first one is warm-up)")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or io.results_root() / "bench" / f"iterations_{args.profile}_{args.device.replace(':', '')}.json"
    start, commit = time.perf_counter(), io.git_commit()
    result = {
        "profile": args.profile,
        "device": args.device,
        "device_name": io.device_description(args.device),
        "threads": torch.get_num_threads(),
        "iterations": args.iterations,
        "loops": {},
    }
    for name in loops:
        print(f"{name} ...", flush=True)
        try:
            result["loops"][name] = isolated(
                name, args.profile, args.device, args.iterations, args.synthetic, args.threads
            )
        except Exception as exc:  # e.g. torch.OutOfMemoryError: record it, run the other loops
            result["loops"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    if any(name.startswith("pde_") for name in loops):
        try:
            ds, source = kdv_data(args.profile, args.synthetic)
            result["kdv_data"] = {"source": source, "shape": list(ds.u.shape)}
        except Exception as exc:
            result["kdv_data"] = {"error": f"{type(exc).__name__}: {exc}"}
    every = args.acceptance_every
    if every is None:
        every = max(1, profiles.get(args.profile, "pde_symmetries")["learn"]["iterations"] // 12)
    if every:
        print("time to the acceptance checks (KdV seed 0) ...", flush=True)
        try:
            result["time_to_acceptance"] = isolated_call(
                time_to_acceptance, args.profile, args.device, every, args.threads
            )
        except Exception as exc:
            result["time_to_acceptance"] = {"error": f"{type(exc).__name__}: {exc}"}
    result["provenance"] = io.provenance(
        args.profile, vars(args), time.perf_counter() - start, args.device, commit_at_start=commit
    )
    io.write_json(out, result)
    print_table(result)
    print_acceptance(result)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
