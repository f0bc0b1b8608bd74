"""The crop LSTM: training on a small separable problem, NaNs, determinism, safe
save/load (safetensors + JSON, checksum), refusals of altered folders and mismatched cubes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from eolab.crop import model as cm
from eolab.crop._lstm_net import CropNet
from eolab.crop.train import fit
from eolab.errors import CubeMismatchError, EolabError, ModelError, ModelIntegrityError, OutputError

SMALL = {"hidden_size": 16, "conv_channels": 16, "epochs": 12, "batch_size": 32,
         "learning_rate": 1e-2, "progress": False, "device": "cpu"}
BANDS = ("B04", "B08", "B11")


def _problem(n_per_class: int = 60, seed: int = 0, t: int = 10):
    """Three classes told apart by *when* band 1 peaks (early, mid, late season), labels
    7, 3 and 42 (not 0..k-1, not sorted), noise on every band."""
    rng = np.random.default_rng(seed)
    steps = np.arange(t)
    xs, ys = [], []
    for label, peak in ((7, 2.0), (3, 5.0), (42, 8.0)):
        base = np.exp(-0.5 * ((steps - peak) / 1.2) ** 2)
        x = 0.1 + rng.normal(0, 0.03, (n_per_class, t, 3))
        x[:, :, 1] += 0.5 * base + rng.normal(0, 0.05, (n_per_class, 1))
        xs.append(x)
        ys.append(np.full(n_per_class, label))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    x, y = _problem()
    # dropped dates in training (augmentation) teach it to read gaps, tested below
    return fit(x, y, bands=BANDS, seed=1, augment={"mask": 0.1}, **SMALL)


def test_net__shapes_and_nan_handling():
    net = CropNet(4, 5, hidden_size=8, conv_channels=8).eval()
    x = torch.randn(6, 11, 4)
    x[0, 3] = float("nan")
    x[1] = float("nan")
    out = net(x)
    assert out.shape == (6, 5) and torch.isfinite(out).all()
    plain = CropNet(4, 5, hidden_size=8, conv_channels=0, bidirectional=False,
                    num_layers=2).eval()
    assert plain(x).shape == (6, 5)
    ens = CropNet(4, 5, hidden_size=8, conv_channels=8, members=3).eval()
    logp = ens(x)
    assert ens.member_logits(x).shape == (3, 6, 5)
    # the ensemble's output is the log of the members' mean probabilities
    mean_p = torch.softmax(ens.member_logits(x), dim=-1).mean(dim=0)
    torch.testing.assert_close(logp.exp(), mean_p)


def test_net__inference_folds_batch_norm_and_merges_kernels():
    """In eval mode every conv layer runs as one convolution (branches merged, batch norm
    folded in): the same numbers as the layers run one by one."""
    torch.manual_seed(0)
    net = CropNet(3, 4, hidden_size=8, conv_channels=12, conv_kernel=[3, 5, 9], conv_layers=2)
    x = torch.randn(40, 11, 3)
    x[0, 2, 1] = float("nan")
    net.train()
    for _ in range(3):                 # move the batch-norm statistics off their defaults
        net(x + torch.randn_like(x))
    net.eval()
    m = net.members[0]
    with torch.no_grad():
        for steps in (11, 4, 1):       # sequences shorter than the longest kernel too
            c = net.features(x[:, :steps]).transpose(1, 2)
            for i, (conv, norm) in enumerate(zip(m.convs, m.norms)):
                z = torch.relu(norm(conv(c)))
                c = z if i == 0 else c + z
            fast = m._front_eval(net.features(x[:, :steps]).transpose(0, 1).contiguous())
            torch.testing.assert_close(fast, c.permute(2, 0, 1), atol=1e-5, rtol=1e-4)
        assert torch.isfinite(net(x)).all()


def test_net__difference_channel():
    net = CropNet(2, 3, mean=torch.tensor([1.0, 0.0]), std=torch.tensor([2.0, 1.0]))
    x = torch.tensor([[[1.0, 0.0], [3.0, 1.0], [float("nan"), 2.0], [7.0, 4.0]]])
    f = net.features(x)[0]
    # standardised bands, then their differences (0 at the first step and next to a gap)
    torch.testing.assert_close(f[:, :2], torch.tensor([[0.0, 0], [1, 1], [0, 2], [3, 4]]))
    torch.testing.assert_close(f[:, 2:4], torch.tensor([[0.0, 0], [1, 1], [0, 1], [0, 2]]))
    torch.testing.assert_close(f[:, 4], torch.tensor([0.0, 0, 1, 0]))
    with pytest.raises(ModelError, match="odd"):
        fit(*_problem(n_per_class=4), conv_kernel=[3, 4], **{**SMALL, "epochs": 1})


def test_ensemble__save_load_round_trip(tmp_path):
    x, y = _problem(n_per_class=10)
    clf = fit(x, y, members=2, seed=0, **{**SMALL, "epochs": 1})
    assert clf.architecture["members"] == 2
    loaded = cm.load(clf.save(tmp_path / "ens"))
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))


def test_distillation__the_student_learns_the_teacher_not_the_labels():
    """The distillation loss works: a teacher trained on relabelled data (classes 0 and 1
    swapped) passes the swap to a student trained with ``distill_weight=1`` on the true
    labels; with ``distill_weight=0`` the student follows the labels."""
    from eolab.crop._train_loop import train_net

    x, y = _problem(n_per_class=30, seed=5)
    y_idx = np.unique(y, return_inverse=True)[1].astype(np.int64)
    swapped = np.array([1, 0, 2])[y_idx]
    loop = {"seed": 2, "epochs": 25, "batch_size": 32, "lr": 1e-2, "weight_decay": 0.0,
            "label_smoothing": 0.0, "val_fraction": 0.0, "patience": None,
            "class_weight": None, "device": torch.device("cpu"), "progress": False,
            "aug": {"jitter": 0.0, "scale": 0.0, "mask": 0.0, "shift": 0, "mixup": 0.0}}
    arch = {"hidden_size": 16, "conv_channels": 16, "conv_kernel": [3, 5], "conv_layers": 2}
    teacher = train_net(x, swapped, 3, arch={**arch, "members": 2}, **loop).net
    xt = torch.from_numpy(x)
    with torch.no_grad():
        assert (teacher(xt).argmax(1).numpy() == swapped).mean() > 0.95
    for weight, follows in ((1.0, swapped), (0.0, y_idx)):
        student = train_net(x, y_idx, 3, arch=arch, teacher=teacher, distill_weight=weight,
                            temperature=2.0, **loop).net
        with torch.no_grad():
            assert (student(xt).argmax(1).numpy() == follows).mean() > 0.95, weight


def test_predict_proba__batches_on_threads_match_one_thread(trained):
    """Batches shared among worker threads (one per torch thread, each running single-
    threaded operations) give the numbers of the plain loop, in order, and the torch
    thread count is restored afterwards."""
    x, _ = _problem(n_per_class=50, seed=7)
    x[::7, 3] = np.nan
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = trained.predict_proba(x, batch_size=16)
        torch.set_num_threads(2)
        many = trained.predict_proba(x, batch_size=16)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trained.predict_proba(x[:5], batch_size=16), one[:5],
                               rtol=1e-5, atol=1e-6)


def test_fit__distillation_options():
    x, y = _problem(n_per_class=10)
    opts = {**SMALL, "epochs": 1}
    student = fit(x, y, teachers=2, distill_weight=0.8, **opts)
    assert student.architecture["members"] == 1         # inference costs one network
    assert student.training["teachers"] == 2 and student.training["distill_weight"] == 0.8
    assert "teachers" not in fit(x, y, teachers=0, **opts).training
    with pytest.raises(ModelError, match="distill_weight"):
        fit(x, y, teachers=2, distill_weight=1.5, **opts)
    with pytest.raises(ModelError, match="temperature"):
        fit(x, y, teachers=1, temperature=0.0, **opts)


def test_fit__separable_problem_high_accuracy(trained):
    x, y = _problem(n_per_class=40, seed=99)
    pred = trained.predict(x)
    assert set(np.unique(pred)) <= {3, 7, 42}
    assert np.mean(pred == y) >= 0.95
    hist = trained.training["history"]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]      # the loss went down


def test_predict_proba__sorted_label_columns(trained):
    x, y = _problem(n_per_class=10, seed=5)
    np.testing.assert_array_equal(trained.labels, [3, 7, 42])
    p = trained.predict_proba(x)
    assert p.shape == (30, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    # class 42 peaks late: its column is the one with the highest mean for label-42 rows
    assert p[y == 42].mean(axis=0).argmax() == 2
    assert p[y == 3].mean(axis=0).argmax() == 0


def test_predict__missing_observations(trained):
    x, y = _problem(n_per_class=40, seed=7)
    holes = np.random.default_rng(0).random(x.shape[:2]) < 0.2   # 20 % of dates missing
    x[holes] = np.nan
    x[0] = np.nan                                                # one sequence with nothing
    p = trained.predict_proba(x)
    assert np.isfinite(p).all()
    assert np.mean(trained.predict(x)[1:] == y[1:]) >= 0.85


def test_fit__nans_in_training_data():
    x, y = _problem(n_per_class=30)
    x[::3, 4:6] = np.nan
    clf = fit(x, y, seed=0, **{**SMALL, "epochs": 2})
    assert np.isfinite(clf.predict_proba(x)).all()
    assert all(np.isfinite(h["train_loss"]) for h in clf.training["history"])


def test_fit__seeded_and_deterministic():
    x, y = _problem(n_per_class=20)
    opts = {**SMALL, "epochs": 2}
    a = fit(x, y, seed=3, **opts).predict_proba(x)
    b = fit(x, y, seed=3, **opts).predict_proba(x)
    c = fit(x, y, seed=4, **opts).predict_proba(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit__normalisation_learned_from_training_data(trained):
    x, _ = _problem()
    norm = trained.normalization
    # the validation tenth is left out, so the mean is close to, not equal to, the full mean
    np.testing.assert_allclose(norm["mean"], np.nanmean(x, axis=(0, 1)), atol=0.01)
    np.testing.assert_allclose(norm["std"], np.nanstd(x, axis=(0, 1)), rtol=0.1)


def test_fit__class_weights_and_bad_input():
    x, y = _problem(n_per_class=20)
    clf = fit(x, y, class_weight="balanced", **{**SMALL, "epochs": 1})
    assert clf.training["class_weight"] == pytest.approx([1.0, 1.0, 1.0])
    clf = fit(x, y, class_weight={42: 3.0}, **{**SMALL, "epochs": 1})
    assert clf.training["class_weight"] == pytest.approx([1.0, 1.0, 3.0])
    with pytest.raises(ModelError, match="two classes"):
        fit(x, np.zeros(len(y), int), **SMALL)
    with pytest.raises(ModelError, match="one label per sample"):
        fit(x, y[:-1], **SMALL)
    with pytest.raises(ModelError, match="integer"):
        fit(x, y + 0.5, **SMALL)
    with pytest.raises(ModelError, match="samples, time, bands"):
        fit(x[0, 0], y[:1], **SMALL)
    with pytest.raises(ModelError, match="augmentation"):
        fit(x, y, augment={"rotate": 1}, **SMALL)


# --- persistence ------------------------------------------------------------


def test_save_load__identical_predictions(trained, tmp_path):
    folder = trained.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["labels"] == [3, 7, 42] and cfg["bands"] == list(BANDS) and cfg["n_steps"] == 10
    assert set(cfg["normalization"]) == {"mean", "std"} and len(cfg["weights_sha256"]) == 64
    assert cfg["architecture"]["hidden_size"] == 16
    # safetensors, not a pickle: the file starts with the little-endian header length and JSON
    raw = (folder / "weights.safetensors").read_bytes()
    assert raw[8:9] == b"{" and b"\x80\x04" not in raw[:2]
    loaded = cm.load(folder)
    x, _ = _problem(n_per_class=10, seed=11)
    x[2, 3] = np.nan
    np.testing.assert_array_equal(loaded.predict_proba(x), trained.predict_proba(x))
    np.testing.assert_array_equal(loaded.predict(x), trained.predict(x))
    with pytest.raises(OutputError, match="already holds"):
        trained.save(folder)
    trained.save(folder, overwrite=True)


@pytest.mark.parametrize("damage, words", [
    ("drop_weights", "missing"),
    ("drop_config", "missing"),
    ("flip_byte", "SHA-256"),
    ("swap_weights", "SHA-256"),
    ("bad_json", "not a valid"),
    ("wrong_arch", "do not fit"),
    ("old_format", "older eolab"),
    ("arch_key_missing", "inconsistent"),
    ("pickle", "SHA-256"),
])
def test_load__refuses_altered_folders(trained, tmp_path, damage, words):
    folder = trained.save(tmp_path / "m")
    w, c = folder / "weights.safetensors", folder / "config.json"
    if damage == "drop_weights":
        w.unlink()
    elif damage == "drop_config":
        c.unlink()
    elif damage == "flip_byte":
        raw = bytearray(w.read_bytes())
        raw[-5] ^= 0xFF
        w.write_bytes(bytes(raw))
    elif damage == "swap_weights":
        other = fit(*_problem(n_per_class=10), seed=9, **{**SMALL, "epochs": 1})
        other.save(tmp_path / "other")
        w.write_bytes((tmp_path / "other" / "weights.safetensors").read_bytes())
    elif damage == "bad_json":
        c.write_text(c.read_text()[:-20])
    elif damage == "wrong_arch":
        cfg = json.loads(c.read_text())
        cfg["architecture"]["hidden_size"] = 32
        c.write_text(json.dumps(cfg))
    elif damage == "old_format":
        cfg = json.loads(c.read_text())
        cfg["format"] = "eolab-crop-lstm/1"
        c.write_text(json.dumps(cfg))
    elif damage == "arch_key_missing":
        cfg = json.loads(c.read_text())
        del cfg["architecture"]["difference"]
        c.write_text(json.dumps(cfg))
    elif damage == "pickle":
        torch.save(trained.net.state_dict(), w)       # a pickle in place of the safetensors
    with pytest.raises(ModelIntegrityError, match=words) as err:
        cm.load(folder)
    assert isinstance(err.value, EolabError)


# --- mismatched inputs --------------------------------------------------------


def test_predict__band_and_time_mismatch(trained):
    x, _ = _problem(n_per_class=4)
    with pytest.raises(CubeMismatchError, match="3 bands"):
        trained.predict(x[:, :, :2])
    with pytest.raises(CubeMismatchError, match="time steps"):
        trained.predict(x[:, :8])
    with pytest.raises(CubeMismatchError, match="band order"):
        trained.predict(x, bands=["B08", "B04", "B11"])
    da = xr.DataArray(x, dims=("sample", "time", "band"), coords={"band": ["B08", "B04", "B11"]})
    with pytest.raises(CubeMismatchError, match="band order"):
        trained.predict(da)
    ok = da.assign_coords(band=list(BANDS))
    assert trained.predict(ok).shape == (12,)
    with pytest.raises(CubeMismatchError, match="last dimension"):
        trained.predict(ok.transpose("sample", "band", "time"))
