"""Bug: the tiny Llama of tryhf_llama with its causal mask defeated -- every attention layer's
``is_causal`` switched off (as when an encoder recipe's "bidirectional attention" patch is copied onto a
decoder), so with no padding mask to build, SDPA attends to every position: the logits at t see the
token they are asked to predict. The loss falls fast and means nothing; causality must catch it."""

from tryhf_llama import collate, lr, optimizer, scheduler, train_loader, val_loader  # noqa: F401
from tryhf_llama import model as _healthy

causal = True


def model():
    net = _healthy()
    for layer in net.model.layers:
        layer.self_attn.is_causal = False
    return net
