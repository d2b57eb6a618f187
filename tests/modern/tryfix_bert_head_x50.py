"""Bug: a tiny BERT whose classifier was scaled x50 ("sharper logits"), given as a model OBJECT, not
a factory: DLC101 on the model's own loss."""

import torch
from transformers import BertConfig, BertForSequenceClassification
from tryfix_bert_ok import CONFIG, lr, train_loader  # noqa: F401

torch.manual_seed(0)
model = BertForSequenceClassification(BertConfig(**CONFIG))
with torch.no_grad():
    model.classifier.weight.mul_(50)  # the bug
    model.classifier.bias.normal_(0, 3)
