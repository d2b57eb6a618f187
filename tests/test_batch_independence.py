"""batch-independence on real PyTorch models: samples mixed across the batch are caught and the
place where the mixing starts is named; honest models of every kind pass (CNNs with BatchNorm,
torchvision's ResNet-18, a Transformer encoder over token embeddings with a padding mask, dict
batches, a target's own forward, sequence-first models that permute correctly)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from conftest import RECIPES
from test_bug_zoo import ZOO

CHECK = "batch-independence"
VOCAB, T, PAD = 50, 12, 0


def _tokens(n: int = 96, seed: int = 0):
    """Token ids (n, T) with padding at the end of each row (lengths 4..T), and labels."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (n, T), generator=g)
    lengths = torch.randint(4, T + 1, (n,), generator=g)
    ids[torch.arange(T)[None, :] >= lengths[:, None]] = PAD
    return ids, torch.randint(0, 3, (n,), generator=g)


def _sequences(n: int = 96, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, T, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def _loader(*tensors, batch_size: int = 16):
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size)


class TokenTransformer(nn.Module):
    """Token and position embeddings, nn.TransformerEncoder with a key padding mask, mean over the
    tokens that are not padding."""

    def __init__(self, batch_first: bool = True, masked: bool = True):
        super().__init__()
        self.masked = masked
        self.tok = nn.Embedding(VOCAB, 32, padding_idx=PAD)
        self.pos = nn.Embedding(T, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.1, batch_first=batch_first)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 3)

    def forward(self, ids, padding=None):  # ids: (B, T)
        padding = ids == PAD if padding is None else padding
        h = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        h = self.encoder(h, src_key_padding_mask=padding if self.masked else None)  # batch_first=False: the bug
        keep = (~padding).unsqueeze(-1).float()
        return self.head((h * keep).sum(1) / keep.sum(1))


def _mixed(result) -> dict:
    assert result.status == "fail", (result.summary, [f.message for f in result.findings])
    return {f.code: f for f in result.findings}


@pytest.mark.parametrize("setup,where", [
    ("bug_lstm_not_batch_first", "in 'lstm' (LSTM)"),
    ("bug_view_not_permute", "between the output of 'embed' and the input of 'lstm'"),
])
def test_the_zoo_bugs_name_where_the_mixing_starts(setup, where):
    result = dlcheck.check(CHECK, str(ZOO / f"{setup}.py"))
    found = _mixed(result)
    assert "DLC801" in found and where in found["DLC801"].message
    assert result.metrics["mixing_starts"] == where
    rows = result.details["samples"]
    assert [r["sample"] for r in rows] == [0, 21, 42, 63]  # spread over the batch of 64, first and last
    if setup == "bug_lstm_not_batch_first":  # run along the batch: earlier samples leak into later ones
        assert rows[0]["depends_on"] == 0 and rows[1]["other_samples"] == "0-20"
        assert "batch_first=True" in found["DLC801"].advice
    else:
        assert "permute" in found["DLC801"].advice


@pytest.mark.parametrize("setup", ["resnet_setup.py", "digits_setup.py"])
def test_the_bundled_recipes_pass(setup):
    result = dlcheck.check(CHECK, str(RECIPES / setup))
    assert result.status == "pass" and not result.findings, result.summary
    assert result.metrics["samples_examined"] == 4 and result.metrics["max_leak_ratio"] == 0


def test_transformer_over_token_ids_with_a_padding_mask_passes_and_batch_first_false_fails():
    ids, labels = _tokens()
    result = dlcheck.check(CHECK, model=TokenTransformer, train_loader=_loader(ids, labels))
    assert result.status == "pass" and not result.findings, result.summary
    assert result.metrics["gradient_at"] == "embedding outputs"  # the token embedding, not the positions

    # batch_first=False reads (B, T, D) as (T, B, D); with the padding mask PyTorch itself would object
    result = dlcheck.check(CHECK, model=lambda: TokenTransformer(batch_first=False, masked=False),
                           train_loader=_loader(ids, labels))
    found = _mixed(result)
    assert "'encoder.layers.0.self_attn' (MultiheadAttention)" in found["DLC801"].message
    assert "batch_first=True" in found["DLC801"].advice


def test_dict_batches_and_a_targets_own_forward():
    ids, labels = _tokens()
    mask = ids == PAD
    batches = [{"input_ids": ids[i:i + 16], "padding": mask[i:i + 16], "labels": labels[i:i + 16]}
               for i in range(0, len(ids), 16)]
    result = dlcheck.check(CHECK, model=TokenTransformer, train_loader=batches)
    assert result.status == "pass" and not result.findings, result.summary

    def forward(model, batch):
        return model(batch["input_ids"], batch["padding"]), batch["labels"]

    result = dlcheck.check(CHECK, model=TokenTransformer, train_loader=batches, forward=forward)
    assert result.status == "pass" and not result.findings, result.summary

    x, y = _sequences()
    floats = [{"x": x[i:i + 16], "y": y[i:i + 16]} for i in range(0, len(x), 16)]
    mlp = lambda: nn.Sequential(nn.Flatten(), nn.Linear(T * 6, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 3))
    result = dlcheck.check(CHECK, model=mlp, train_loader=floats)
    assert result.status == "pass" and result.metrics["gradient_at"] == "inputs", result.summary


class SeqFirstLSTM(nn.Module):
    """Embeddings (or features) to an LSTM that reads (T, B, D): right with permute; wrong when fed
    (B, T, D) and read as if it were batch-first."""

    def __init__(self, tokens: bool, permute: bool):
        super().__init__()
        self.tokens, self.permute = tokens, permute
        self.embed = nn.Embedding(VOCAB, 16) if tokens else nn.Linear(6, 16)
        self.lstm = nn.LSTM(16, 24)
        self.head = nn.Linear(24, 3)

    def forward(self, x):
        h = self.embed(x)  # (B, T, 16)
        if self.permute:
            out, _ = self.lstm(h.permute(1, 0, 2))  # (T, B, 24)
            return self.head(out[-1])
        out, _ = self.lstm(h)  # (B, T, 24), computed along B
        return self.head(out[:, -1])


@pytest.mark.parametrize("tokens", [False, True])
def test_a_sequence_first_lstm_passes_with_permute_and_fails_without(tokens):
    x, y = _tokens() if tokens else _sequences()
    data = _loader(x, y)
    result = dlcheck.check(CHECK, model=lambda: SeqFirstLSTM(tokens, permute=True), train_loader=data)
    assert result.status == "pass" and not result.findings, result.summary
    result = dlcheck.check(CHECK, model=lambda: SeqFirstLSTM(tokens, permute=False), train_loader=data)
    found = _mixed(result)
    assert "in 'lstm' (LSTM)" in found["DLC801"].message
    assert result.metrics["gradient_at"] == ("embedding outputs" if tokens else "inputs")


def test_batchnorm_with_batch_statistics_in_eval_mode_mixes():
    x, y = _sequences()
    model = lambda: nn.Sequential(nn.Flatten(), nn.Linear(T * 6, 32), nn.BatchNorm1d(32, track_running_stats=False),
                                  nn.ReLU(), nn.Linear(32, 3))
    found = _mixed(dlcheck.check(CHECK, model=model, train_loader=_loader(x, y)))
    assert "in '2' (BatchNorm1d)" in found["DLC801"].message and "track_running_stats" in found["DLC801"].advice


class CentredLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(T * 6, 3))

    def forward(self, x):
        out = self.net(x)
        return out - out.mean(0)  # centred over the batch: every sample depends on every other


def test_mixing_after_the_last_module_and_mixing_by_design(tmp_path):
    x, y = _sequences()
    data = _loader(x, y)
    found = _mixed(dlcheck.check(CHECK, model=CentredLogits, train_loader=data))
    assert "after the output of 'net.1'" in found["DLC801"].message
    by_recipe = dlcheck.check(CHECK, model=CentredLogits, train_loader=data,
                              settings={CHECK: {"mixes_samples": True}})
    assert by_recipe.status == "pass" and [f.code for f in by_recipe.findings] == ["DLC802"]

    setup = tmp_path / "set_model.py"
    setup.write_text("import torch\nfrom torch import nn\n\n"
                     "mixes_samples = True  # centred over the batch on purpose\n"
                     "model = lambda: nn.Linear(6, 3)\n"
                     "forward = lambda m, batch: (m(batch[0]) - m(batch[0]).mean(0), batch[1])\n"
                     "train_loader = [(torch.randn(8, 6), torch.randint(0, 3, (8,)))]\n")
    by_target = dlcheck.check(CHECK, str(setup))
    assert by_target.status == "pass" and [f.code for f in by_target.findings] == ["DLC802"]
    assert "the mixing starts after the output of the model (in the forward" in by_target.findings[0].message


def test_what_cannot_be_measured_is_said_and_passes():
    x, y = _sequences()
    one = dlcheck.check(CHECK, model=lambda: nn.Sequential(nn.Flatten(), nn.Linear(T * 6, 3)),
                        train_loader=_loader(x, y, batch_size=1))
    assert one.status == "pass" and [f.code for f in one.findings] == ["DLC803"] and "one sample" in one.summary

    class OneHot(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(T * VOCAB, 3)

        def forward(self, ids):
            return self.head(nn.functional.one_hot(ids, VOCAB).float().flatten(1))

    ids, labels = _tokens()
    result = dlcheck.check(CHECK, model=OneHot, train_loader=_loader(ids, labels))
    assert result.status == "pass" and [f.code for f in result.findings] == ["DLC803"]
    assert "no nn.Embedding" in result.summary


def test_flags_and_several_batches(cli):
    import json

    res = cli(CHECK, str(ZOO / "bug_lstm_not_batch_first.py"), "--batches", "2", "--samples", "2", "--json", "-")
    assert res.exit_code == 1
    check = json.loads(res.stdout)["checks"][0]
    assert check["metrics"]["batches"] == 2 and check["metrics"]["samples_examined"] == 4
    assert [(r["batch"], r["sample"]) for r in check["details"]["samples"]] == [(0, 0), (0, 63), (1, 0), (1, 63)]
    assert check["findings"][0]["code"] == "DLC801" and "of batch 1" in check["findings"][0]["message"]
