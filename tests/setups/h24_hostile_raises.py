"""The hostile-named MLP whose forward raises, after the pre-flight's call, an exception carrying
rich markup, HTML and Markdown: the check errors and every report shows the text as text."""

from h24_hostile import model, train_loader  # noqa: F401

calls = [0]


def forward(model, batch):
    calls[0] += 1
    if calls[0] > 1:
        raise RuntimeError("[bold red]boom[/bold red] [/] <script>alert(1)</script> `tick` | pipe")
    return model(batch[0]), batch[1]
