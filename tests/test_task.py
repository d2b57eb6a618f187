"""The task (dlcheck/task.py): inferred from loss, outputs and targets; its references computed
with the user's own loss object; and the fidelity of what dlcheck trains (what the loss sees, what
a dict batch hands the model, a factory that ignores its lr, set-ups where nothing can train)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from dlcheck.task import infer


def codes(result) -> set[str]:
    return {f.code for f in result.findings}


def optimum(loss_fn, shape, targets, steps=300) -> float:
    """The lowest loss over free outputs, found by LBFGS: what the closed-form floor must equal."""
    z = torch.zeros(shape, requires_grad=True)
    opt = torch.optim.LBFGS([z], lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(z, targets)
        loss.backward()
        return loss

    opt.step(closure)
    return float(loss_fn(z.detach(), targets))


def test_cross_entropy_floor_with_label_smoothing_and_weights_is_the_optimum():
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 5, (64,), generator=g)
    loss = nn.CrossEntropyLoss(label_smoothing=0.1, weight=torch.tensor([0.5, 1.0, 2.0, 1.5, 0.7]))
    logits = torch.randn(64, 5, generator=g)
    task = infer(loss, logits, targets)
    refs = task.reference(loss, logits, targets)
    assert task.kind == "classification" and task.classes == 5 and task.options["label_smoothing"] == 0.1
    assert refs.floor == pytest.approx(optimum(loss, (64, 5), targets), abs=1e-4)
    assert refs.floor > 0.3  # far above 0: smoothed targets cannot be matched exactly
    assert refs.expected == pytest.approx(float(loss(torch.zeros(64, 5), targets)))  # the loss at uniform
    assert refs.expected == pytest.approx(math.log(5), rel=0.01)  # still about ln C


def test_soft_target_bce_with_pos_weight_floor_is_the_optimum():
    g = torch.Generator().manual_seed(1)
    targets = torch.rand(32, 4, generator=g)
    loss = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 3.0, 0.5, 2.0]))
    task = infer(loss, torch.zeros(32, 4), targets)
    refs = task.reference(loss, torch.zeros(32, 4), targets)
    assert task.kind == "multilabel" and task.classes == 4
    assert refs.floor == pytest.approx(optimum(loss, (32, 4), targets), abs=1e-4)
    plain = nn.BCEWithLogitsLoss()
    assert infer(plain, torch.zeros(8, 3), torch.ones(8, 3)).reference(plain, torch.zeros(8, 3), torch.ones(8, 3)) \
        .expected == pytest.approx(math.log(2))


def test_mse_references_are_mean_square_and_variance():
    y = torch.tensor([[1.0], [3.0], [5.0], [7.0]])
    loss = nn.MSELoss()
    refs = infer(loss, torch.zeros(4, 1), y).reference(loss, torch.zeros(4, 1), y)
    assert refs.expected == pytest.approx(float((y ** 2).mean()))
    assert refs.constant == pytest.approx(float(y.var(unbiased=False)))
    assert refs.floor == 0


def test_dense_outputs_have_their_class_axis_not_their_flattened_width():
    logits, targets = torch.zeros(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))
    task = infer(nn.CrossEntropyLoss(), logits, targets, num_classes=3)
    assert (task.kind, task.classes, task.dense, task.positions) == ("classification", 3, True, 64)


def test_cross_entropy_over_one_column_is_a_problem():
    task = infer(None, torch.zeros(4, 1), torch.zeros(4, 1))
    assert task.problem and "identically 0" in task.problem


def test_a_task_that_contradicts_the_loss_is_bad_input():
    from dlcheck.errors import UserError

    with pytest.raises(UserError, match="regression"):
        infer(nn.CrossEntropyLoss(), torch.zeros(4, 3), torch.zeros(4).long(), given="regression")


# -- the run's task in the report --------------------------------------------------------------
def segmentation():
    """Honest synthetic segmentation: a bright square on noise; class 1 inside, 2 on its border."""
    g = torch.Generator().manual_seed(0)
    images, masks = [], []
    for _ in range(64):
        img = torch.randn(1, 16, 16, generator=g) * 0.3
        mask = torch.zeros(16, 16, dtype=torch.long)
        top, left = (int(v) for v in torch.randint(2, 9, (2,), generator=g))
        img[0, top:top + 6, left:left + 6] += 2.0
        mask[top:top + 6, left:left + 6] = 2
        mask[top + 1:top + 5, left + 1:left + 5] = 1
        images.append(img)
        masks.append(mask)
    return TensorDataset(torch.stack(images), torch.stack(masks))


def fcn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 3, 1))


def test_segmentation_with_num_classes_is_judged_per_position():
    report = dlcheck.run(model=fcn, train_loader=DataLoader(segmentation(), batch_size=16), num_classes=3,
                         checks=["init-loss", "overfit-small"])
    task = report.to_dict()["task"]
    assert (task["kind"], task["classes"], task["dense"], task["positions"]) == ("classification", 3, True, 256)
    init, overfit = report.checks
    assert "DLC106" not in codes(init) and init.status == "pass", init.summary
    assert init.metrics["expected"] == pytest.approx(math.log(3), rel=1e-4)
    assert overfit.status in ("pass", "warn"), overfit.summary


# -- overfit-small on other tasks ----------------------------------------------------------------
def diabetes(standardise_targets=True):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
    y = torch.tensor((y - y.mean()) / y.std() if standardise_targets else y, dtype=torch.float32)[:, None]
    return DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))


def regressor():
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def test_a_regression_loss_still_falling_is_not_converged_never_a_fail():
    result = dlcheck.check("overfit-small", model=regressor, train_loader=diabetes(), loss_fn=nn.MSELoss(),
                           settings={"overfit-small": {"max_steps": 300}})
    assert result.status == "warn", result.summary
    assert codes(result) == {"DLC209"}
    assert "not converged" in result.summary and result.metrics["steps_needed"] > 0
    longer = dlcheck.check("overfit-small", model=regressor, train_loader=diabetes(), loss_fn=nn.MSELoss(),
                           settings={"overfit-small": {"max_steps": 2000}})
    assert longer.metrics["fit"] and codes(longer) <= {"DLC206"}, longer.summary


def test_label_smoothing_and_class_weights_memorise_at_their_floor(digits):
    X, y = digits
    loss = nn.CrossEntropyLoss(label_smoothing=0.1, weight=torch.linspace(0.5, 2, 10))
    result = dlcheck.check("overfit-small", model=lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)),
                           train_loader=DataLoader(TensorDataset(X, y), batch_size=64), loss_fn=loss)
    assert result.status == "pass", result.summary
    assert result.metrics["floor"] > 0.4 and result.metrics["final_loss"] > result.metrics["floor"]
    assert "memorised" in result.summary


def test_a_forgotten_loss_on_a_regression_target_fails_overfit_small():
    result = dlcheck.check("overfit-small", model=regressor, train_loader=diabetes())
    assert result.status == "fail" and "DLC208" in codes(result)


def test_a_sigmoid_before_bce_with_logits_is_named():
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / (X.std(0) + 1e-6), dtype=torch.float32)
    digit = torch.tensor(digit)
    Y = torch.stack([digit % 2 == 0, digit > 4, (digit == 0) | (digit >= 8)], 1).float()
    loader = DataLoader(TensorDataset(X, Y), batch_size=64)

    def model(sigmoid=False):
        layers = [nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 3)]
        return nn.Sequential(*layers, nn.Sigmoid()) if sigmoid else nn.Sequential(*layers)

    healthy = dlcheck.check("overfit-small", model=model, train_loader=loader, loss_fn=nn.BCEWithLogitsLoss())
    assert healthy.status == "pass", healthy.summary
    assert healthy.metrics["final_accuracy"] >= 0.99
    bug = dlcheck.check("overfit-small", model=lambda: model(True), train_loader=loader, loss_fn=nn.BCEWithLogitsLoss())
    assert bug.status == "fail" and "DLC203" in codes(bug), bug.summary


# -- fidelity: train what the user trains ---------------------------------------------------------
class AuxNet(nn.Module):
    """GoogLeNet-style: (main, aux) logits in train mode, main only in eval mode."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
        self.main = nn.Linear(64, 10)
        self.aux = nn.Linear(64, 10)

    def forward(self, x):
        h = self.body(x)
        return (self.main(h), self.aux(h)) if self.training else self.main(h)


class GradSpy(torch.optim.SGD):
    """Records, at each step, whether the aux head got a gradient."""

    seen: list = []

    def step(self, closure=None):
        GradSpy.seen.append([p.grad is not None and bool(p.grad.abs().sum() > 0) for p in self.aux_params])
        return super().step(closure)


def test_the_loss_receives_every_output_and_the_aux_head_trains(digits):
    X, y = digits
    received = []

    def aux_loss(outputs, targets):
        received.append(type(outputs).__name__)
        main, aux = outputs
        return nn.functional.cross_entropy(main, targets) + 0.3 * nn.functional.cross_entropy(aux, targets)

    model = AuxNet()

    def optimizer(params, lr):
        opt = GradSpy(params, lr=lr)
        opt.aux_params = list(model.aux.parameters())
        return opt

    GradSpy.seen = []
    report = dlcheck.run(model=model, train_loader=DataLoader(TensorDataset(X, y), batch_size=64), loss_fn=aux_loss,
                         optimizer=optimizer, lr=0.1, checks=["init-loss", "overfit-small"])
    assert set(received) == {"tuple"}
    assert GradSpy.seen and all(all(step) for step in GradSpy.seen)
    assert report.to_dict()["task"]["logits"].startswith("element 0 of the tuple")
    assert report.status != "error", [(c.name, c.summary) for c in report.checks]


class MaskedPooler(nn.Module):
    """A text classifier that pools token embeddings under the attention mask."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.head = nn.Linear(16, 2)
        self.masks_seen = 0

    def forward(self, input_ids, attention_mask):
        self.masks_seen += 1
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp_min(1)
        return self.head(pooled)


def text_batches():
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(6):
        ids = torch.randint(1, 20, (16, 12), generator=g)
        lengths = torch.randint(3, 13, (16,), generator=g)
        mask = (torch.arange(12)[None] < lengths[:, None]).long()
        ids = ids * mask  # padding is token 0
        labels = (ids[:, 0] > 10).long()
        batches.append({"input_ids": ids, "attention_mask": mask, "labels": labels, "text_id": torch.arange(16)})
    return batches


def test_dict_batches_hand_the_model_every_key_its_forward_takes():
    model = MaskedPooler()
    report = dlcheck.run(model=model, train_loader=text_batches(), checks=["init-loss", "overfit-small"])
    assert report.status != "error", [(c.name, c.summary) for c in report.checks]
    assert model.masks_seen > 0
    note = report.to_dict()["task"]["model_inputs"]
    assert "attention_mask" in note and "left out: text_id" in note and "labels" not in note


def test_a_factory_that_ignores_its_lr_is_flagged(digits):
    X, y = digits
    result = dlcheck.check("overfit-small", model=lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
                           train_loader=DataLoader(TensorDataset(X, y), batch_size=64), lr=1e-3,
                           optimizer=lambda params, lr: torch.optim.Adam(params, lr=3e-3))
    assert "DLC004" in codes(result)
    assert "3e-03" in result.findings[[f.code for f in result.findings].index("DLC004")].message.replace("0.003", "3e-03")


def frozen_model():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(64, 10)

    def forward(self, x):
        return self.net(x).detach().requires_grad_()  # a forward that cuts the graph


@pytest.mark.parametrize("factory,words", [(frozen_model, "no parameter requires grad"),
                                           (Detached, "no path to any parameter")])
def test_set_ups_where_nothing_trains_fail_with_the_diagnosis(digits, factory, words):
    X, y = digits
    result = dlcheck.check("overfit-small", model=factory, train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert result.status == "fail", result.summary
    assert "DLC005" in codes(result) and words in result.summary


def test_an_output_object_with_the_default_loss_is_judged():
    """A Hugging Face-style model returns an object with .logits: the default CrossEntropyLoss takes
    the logits, and so do the references (a verdict, not 'no reference')."""
    from conftest import SETUPS

    result = dlcheck.check("init-loss", str(SETUPS / "dict_batches.py"))
    assert result.metrics["expected"] == pytest.approx(math.log(10), rel=1e-4)
    assert "DLC108" not in codes(result) and "ln(10)" in result.summary


class DepthNet(nn.Module):
    """A residual MLP whose branches are dropped at random (torchvision's StochasticDepth)."""

    def __init__(self):
        super().__init__()
        from torchvision.ops import StochasticDepth

        self.stem = nn.Linear(64, 64)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Linear(64, 64)) for _ in range(3))
        self.drop = StochasticDepth(0.5, "row")
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        h = self.stem(x)
        for block in self.blocks:
            h = h + self.drop(block(h))
        return self.head(h)


def test_stochastic_depth_is_turned_off_to_memorise(digits):
    X, y = digits
    model = DepthNet()
    result = dlcheck.check("overfit-small", model=model, train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert result.status == "pass", result.summary
    assert "stochastic depth" in next(f.message for f in result.findings if f.code == "DLC207")
    assert model.drop.training  # handed back as it was
