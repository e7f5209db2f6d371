"""Training machinery: seeding, safetensors weights, resumable checkpoints, model cards, recipes, CLI."""

from __future__ import annotations

import argparse
import io

import pytest
import torch

from hdrvideo.errors import HDRVideoError, InputNotFoundError, InvalidInputError
from hdrvideo.nn import recipes
from hdrvideo.nn.cli import add_parser
from hdrvideo.nn.training import (
    Checkpointer,
    ModelCard,
    TrainProgress,
    count_parameters,
    load_weights,
    save_weights,
    seed_everything,
    step_batches,
    train_loop,
    weights_sha256,
    write_model_card,
)


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.drop = torch.nn.Dropout(0.2)  # uses the global RNG: resumption must restore it
        self.head = torch.nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.head(self.drop(torch.relu(self.conv(x))))


class Items(torch.utils.data.Dataset):
    """Deterministic per index."""

    def __len__(self):
        return 1000

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"x": torch.rand(3, 8, 8, generator=g)}


def run(tmp_path, steps, resume, total=6):
    seed_everything(0)
    model = TinyNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    gen = torch.Generator().manual_seed(1)
    ds = Items()

    def loss_at(step):
        batch = next(iter(step_batches(ds, 4, step, step + 1)))
        noise = torch.rand(1, generator=gen).item()  # the data generator must be restored too
        return ((model(batch["x"]) - batch["x"] * noise) ** 2).mean()

    ck = Checkpointer(tmp_path)
    result = train_loop(model, opt, loss_at, steps, scheduler=sched, generator=gen, checkpointer=ck,
                        checkpoint_every=100, resume=resume, progress=False)
    return model, result


def test_resume_matches_straight_run(tmp_path):
    straight_dir, split_dir = tmp_path / "a", tmp_path / "b"
    model_a, res_a = run(straight_dir, 6, False)
    _, first = run(split_dir, 3, False)
    model_b, second = run(split_dir, 6, True)
    assert second.start_step == 3
    assert first.losses + second.losses == res_a.losses
    for (ka, va), (kb, vb) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_checkpointer_without_checkpoint_returns_none(tmp_path):
    model = TinyNet()
    assert Checkpointer(tmp_path).load(model, torch.optim.SGD(model.parameters(), lr=0.1)) is None


def test_safetensors_round_trip(tmp_path):
    a, b = TinyNet(), TinyNet()
    path = tmp_path / "w.safetensors"
    save_weights(a, path, {"name": "tiny", "steps": "6"})
    assert load_weights(b, path) == {"name": "tiny", "steps": "6"}
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb)
    digest = weights_sha256(path)
    assert len(digest) == 64 and digest == weights_sha256(path)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left


def test_load_weights_errors(tmp_path):
    with pytest.raises(InputNotFoundError):
        load_weights(TinyNet(), tmp_path / "missing.safetensors")
    path = tmp_path / "w.safetensors"
    save_weights(torch.nn.Conv2d(3, 5, 3), path, {})
    with pytest.raises(InvalidInputError, match="do not fit"):
        load_weights(TinyNet(), path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(InvalidInputError):
        load_weights(TinyNet(), bad)
    with pytest.raises(InvalidInputError, match="str"):
        save_weights(TinyNet(), path, {"steps": 6})


def test_tied_weights_round_trip(tmp_path):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(4, 4, bias=False)
            self.b = torch.nn.Linear(4, 4, bias=False)
            self.b.weight = self.a.weight

    src, dst = Tied(), Tied()
    save_weights(src, tmp_path / "t.safetensors", {})
    load_weights(dst, tmp_path / "t.safetensors")
    assert torch.equal(dst.a.weight, src.a.weight) and dst.b.weight is dst.a.weight


def test_seed_everything_reproducible():
    g1 = seed_everything(3)
    a = torch.rand(3), torch.rand(2, generator=g1)
    g2 = seed_everything(3)
    b = torch.rand(3), torch.rand(2, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_model_card(tmp_path):
    card = ModelCard(
        name="tiny", description="A test network.", data="procedural", steps=6, wall_time_seconds=12.5,
        parameters=count_parameters(TinyNet()), seed=0, command="hdrvideo train tiny --out x",
        results=[{"metric": "PU21-PSNR", "tiny": 31.25, "bt2390": 30.5}, {"metric": "a|b", "tiny": 1}],
        notes="none",
    )
    path = tmp_path / "MODEL_CARD.md"
    write_model_card(path, card)
    text = path.read_text()
    assert text.startswith("# tiny\n")
    assert "| metric | tiny | bt2390 |" in text and "| PU21-PSNR | 31.25 | 30.5 |" in text
    assert "a\\|b" in text and f"parameters: {count_parameters(TinyNet()):,}" in text


def test_progress_line():
    bar = TrainProgress(100, file=io.StringIO(), force=True, label="tiny")
    bar.loss = 0.5
    bar.update(10)
    assert "step=   10/100" in bar.line() and "loss=0.5" in bar.line() and "it/s=" in bar.line()


def test_train_loop_stops_on_nan(tmp_path):
    model = TinyNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(InvalidInputError, match="step 0"):
        train_loop(model, opt, lambda s: model(torch.rand(1, 3, 4, 4)).sum() * float("nan"), 3, progress=False)


# --------------------------------------------------------------------------- recipes and CLI


@pytest.fixture()
def fake_recipe(monkeypatch):
    calls = []

    def train(out_dir, *, steps, seed, resume, threads):
        """A fake model for tests."""
        calls.append((steps, seed, resume, threads))
        path = out_dir / "fake.safetensors"
        save_weights(torch.nn.Linear(2, 2), path, {"name": "fake"})
        return path

    monkeypatch.setattr(recipes, "RECIPES", {})
    monkeypatch.setattr(recipes, "load_recipes", lambda: recipes.RECIPES)
    recipes.register_recipe("fake", train)
    return calls


def parse(argv):
    parser = argparse.ArgumentParser(prog="hdrvideo")
    add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_runs_recipe(tmp_path, fake_recipe, capsys):
    args = parse(["train", "fake", "--out", str(tmp_path / "o"), "--steps", "5", "--seed", "2", "--resume", "--threads", "1"])
    assert args.run(args) == 0
    assert fake_recipe == [(5, 2, True, 1)]
    assert "sha256=" in capsys.readouterr().out


def test_cli_unknown_model_lists_known(tmp_path, fake_recipe):
    args = parse(["train", "nope", "--out", str(tmp_path)])
    with pytest.raises(HDRVideoError, match="known models: fake"):
        args.run(args)


def test_register_recipe_conflict(fake_recipe):
    with pytest.raises(InvalidInputError):
        recipes.register_recipe("fake", lambda out_dir, **kw: out_dir)
    with pytest.raises(InvalidInputError):
        recipes.register_recipe("", lambda: None)


def test_load_recipes_imports_package():
    assert isinstance(recipes.load_recipes(), dict)


@pytest.mark.skipif("train" not in __import__("hdrvideo.cli").cli.__dict__.get("_SUBCOMMANDS", ()), reason="train not wired into hdrvideo.cli yet")
def test_wired_cli_unknown_model(tmp_path, capsys):
    from hdrvideo.cli import main

    code = main(["train", "no-such-model", "--out", str(tmp_path)])
    assert code != 0
    assert "no-such-model" in capsys.readouterr().err


def test_step_batches_independent_of_start():
    ds = Items()
    whole = [b["x"] for b in step_batches(ds, 3, 0, 4)]
    tail = [b["x"] for b in step_batches(ds, 3, 2, 4)]
    assert len(whole) == 4 and len(tail) == 2
    assert torch.equal(whole[2], tail[0]) and torch.equal(whole[3], tail[1])
    assert torch.equal(whole[1][0], ds[3]["x"])
