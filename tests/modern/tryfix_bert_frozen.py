"""Bug: a tiny BERT from a config with its encoder frozen ("freeze the backbone" with no pretrained
weights): only the pooler and classifier train (DLC204)."""

from tryfix_bert_ok import lr, model as _healthy, train_loader  # noqa: F401


def model():
    net = _healthy()
    for p in net.bert.embeddings.parameters():
        p.requires_grad_(False)
    for p in net.bert.encoder.parameters():
        p.requires_grad_(False)  # the bug
    return net
