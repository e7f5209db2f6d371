"""Benchmark the nriqa network against its teacher, the classic baselines, and its speed.

Accuracy: SROCC and PLCC against the teacher (PU21-MS-SSIM) on the held-out set built by
the recipe (held-out real images ``ScanLines_Desk``, ``MultiView_Fog``,
``Tiles_GoldenGate``, ``quarry_01_1k`` and held-out procedural seeds, at held-out levels
0.2 / 0.5 / 0.8), overall and per distortion family, for every ablation row found under
``RUN_DIR/runs`` and for BRISQUE (ridge fitted on a subset of the training set) and NIQE
(fitted on the pristine training crops; sign flipped: higher = better).

Speed: one 1080p frame (cd/m², on the CPU), patches + encoding + network, median of
``--repeats`` runs after 3 warm-ups, ``torch.set_num_threads(--threads)``; torch and ONNX
Runtime (through :mod:`hdrvideo.engines` when it is importable).

Run:  python benchmarks/bench_nriqa.py --run-dir RUN_DIR [--json out.json]
(RUN_DIR is the ``--out`` of ``hdrvideo train nriqa``; its dataset cache is reused.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hdrvideo.nn import nriqa
from hdrvideo.nn.distortions import DISTORTIONS, FAMILIES


def _families(split: nriqa.Split) -> dict[str, np.ndarray]:
    names = list(DISTORTIONS)
    fam = np.array([DISTORTIONS[names[d]].family if d >= 0 else "pristine" for d in split.distortion])
    return {f: fam == f for f in FAMILIES}


def _row(name: str, pred: np.ndarray, split: nriqa.Split) -> dict[str, float | str]:
    srocc, plcc = nriqa.correlations(pred, split.score)
    row: dict[str, float | str] = {"method": name, "SROCC": srocc, "PLCC": plcc}
    for fam, mask in _families(split).items():
        row[f"SROCC {fam}"] = nriqa.correlations(pred[mask], split.score[mask])[0]
    return row


def accuracy(run_dir: Path, baseline_train: int, seed: int) -> list[dict]:
    splits = nriqa.build_dataset(run_dir, seed)
    train, val = splits["hdr_train"], splits["hdr_val"]
    rows = []
    for cfg in nriqa.CONFIGS:
        path = run_dir / "runs" / f"{cfg.name}.safetensors"
        if not path.exists():
            continue
        net, _ = nriqa.load_nriqa(path)
        rows.append(_row(f"nriqa {cfg.name}", nriqa.predict(net, val, cfg.encoding), val))
    from hdrvideo.quality.baselines import Brisque, Niqe

    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(len(train.score), size=min(baseline_train, len(train.score)), replace=False))
    feats_train = np.concatenate([Brisque.features(train.light(sub[i:i + 64])) for i in range(0, len(sub), 64)])
    feats_val = np.concatenate([Brisque.features(val.light(slice(i, i + 64))) for i in range(0, len(val.score), 64)])
    brisque = Brisque(ridge=1.0).fit_features(
        feats_train, nriqa.score_to_distance(torch.from_numpy(train.score[sub])).numpy())
    rows.append(_row("BRISQUE (ridge)", brisque.predict_features(feats_val), val))
    pristine = np.flatnonzero(train.distortion == -1)
    niqe = Niqe().fit(train.light(pristine))
    rows.append(_row("NIQE", -np.concatenate([niqe.score(val.light(slice(i, i + 64)))
                                              for i in range(0, len(val.score), 64)]), val))
    return rows


def speed(repeats: int, threads: int) -> list[dict]:
    torch.set_num_threads(threads)
    frame = torch.rand(3, 1080, 1920, generator=torch.Generator().manual_seed(0)) * 1000
    rows = []
    from hdrvideo.quality.nriqa import NRScorer

    for backend in ("torch", "onnxruntime"):
        try:
            scorer = NRScorer(backend=backend)
        except Exception as error:  # noqa: BLE001 - report what is not available
            rows.append({"backend": backend, "ms per 1080p frame": f"n/a ({type(error).__name__})"})
            continue
        for _ in range(3):
            scorer.score(frame)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            scorer.score(frame)
            times.append((time.perf_counter() - t0) * 1000)
        rows.append({"backend": backend, "ms per 1080p frame": round(statistics.median(times), 2),
                     "min ms": round(min(times), 2), "repeats": repeats, "threads": threads})
    return rows


def table(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-train", type=int, default=600, help="training samples for BRISQUE's ridge")
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = {}
    if not args.skip_accuracy:
        torch.set_num_threads(args.threads)
        out["accuracy"] = accuracy(args.run_dir, args.baseline_train, args.seed)
        print(table(out["accuracy"]))
        print()
    out["speed"] = speed(args.repeats, args.threads)
    print(table(out["speed"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
